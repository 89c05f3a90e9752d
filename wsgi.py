"""WSGI entry point: `gunicorn wsgi:app`."""

import gc

from app import create_app

app = create_app()
# What start-up made lives as long as the process: keep it out of the collector's reach. Otherwise every full
# collection walks all of it, in the middle of a request (250-290 ms on the 2-core benchmark machine, the
# p99 of every page under load).
gc.freeze()
