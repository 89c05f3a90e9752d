"""Work on many small objects at once."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def bulk() -> Iterator[None]:
    """A block that builds millions of small acyclic objects (cells, records, rows): the cycle collector
    would walk them over and over for nothing (a third of the parse time), so it waits until the block
    ends. Reference counting still frees everything as usual."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
