"""The registry (issue 11 point 1): enterprises by credit code, their process units and control facilities by
code and their meters by number, each with a stable id that outlives list versions, and their history as
append-only events. List versions (app/reduction) reference registry entries through `registry_id`."""
