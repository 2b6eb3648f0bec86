"""Scopes for Python's cyclic garbage collector around the long stages of a run.

The collector walks every object it tracks at each full collection, and it starts one
whenever the objects that survived two younger collections pass a quarter of those it
walked last time. Two kinds of work make that walking cost more than the work itself:

- stages that make millions of small acyclic objects (dedupe's pairs and keys, the
  conflict sweep's heap entries): ``paused`` switches the collector off for them;
- a refresh in a process that already holds a large heap (the imported modules, the
  config, the web app): each full collection during the refresh would walk all of it
  again, though none of it becomes garbage because of the refresh.
  ``earlier_objects_left_alone`` keeps the collector to what the refresh makes.

Reference counting frees memory as usual inside both scopes; only reference cycles wait.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_paused_scopes = 0
_enabled_before_pause = False
_frozen_scopes = 0


@contextmanager
def paused() -> Iterator[None]:
    """No cyclic collection inside; afterwards the collector is as it was (on, unless it was off).

    Scopes may nest or overlap across threads (a web request's publication beside the
    scheduler's refresh): the first to enter switches the collector off and the last to
    leave restores it, so one leaving does not switch it on under another.
    """
    global _paused_scopes, _enabled_before_pause
    with _lock:
        if _paused_scopes == 0:
            _enabled_before_pause = gc.isenabled()
            gc.disable()
        _paused_scopes += 1
    try:
        yield
    finally:
        with _lock:
            _paused_scopes -= 1
            if _paused_scopes == 0 and _enabled_before_pause:
                gc.enable()


@contextmanager
def earlier_objects_left_alone() -> Iterator[None]:
    """Inside, collections walk only objects made inside the scope.

    The objects that exist on entry are moved out of the collector's generations
    (``gc.freeze``) and back into the oldest one on exit (``gc.unfreeze``), where a
    later collection finds whichever of them became garbage meanwhile: nothing is kept
    for good. Scopes may nest or overlap across threads; the first to enter freezes and
    the last to leave unfreezes.
    """
    global _frozen_scopes
    with _lock:
        if _frozen_scopes == 0:
            gc.freeze()
        _frozen_scopes += 1
    try:
        yield
    finally:
        with _lock:
            _frozen_scopes -= 1
            if _frozen_scopes == 0:
                gc.unfreeze()
