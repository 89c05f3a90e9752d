"""Long work in the background: jobs run by Huey's consumer beside the web server (docs/jobs.md)."""
