"""Browser tests: Debian's headless Chromium drives a live server through Playwright."""
