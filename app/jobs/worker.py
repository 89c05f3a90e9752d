"""A Huey consumer started by Huey's own command rather than `flask jobs worker`:
`huey_consumer app.jobs.worker.huey`. Importing this module makes the app the jobs run in."""

from app import create_app
from app.jobs import runner

runner.set_app(create_app())
huey = runner.huey
