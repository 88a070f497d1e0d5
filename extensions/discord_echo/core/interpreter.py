"""Two interpreter settings a long build needs changed while it runs, and put back after.

*Fewer garbage collections.* A dataset build makes millions of small containers (messages, turns, message
dicts, lists of pieces) that refcounting frees at once, yet every 700 of them CPython's default thresholds
start a young-generation collection, and every so often a full one walks every object alive, the held
messages included: about 8 % of a 37,000-message build, for no garbage found (the build makes almost no
reference cycles). While tuned, the young generation is collected every 10,000 allocations instead; cycles
are still collected, only later.

*Quicker hand-overs of the GIL.* The build counts tokens on a worker thread (dataset/background_counts.py)
whose tokenizer runs without the GIL but needs it back for a moment after each batch; while the build's own
thread runs Python, CPython makes the worker wait up to the switch interval (5 ms) for it, every time. At
1 ms, the worker keeps up with the build instead of leaving a backlog for its end (~0.1 s at 37k messages).

Both settings are process-wide, so they are made by the first build that enters `tuned_for_build` and
restored when the last one leaves (a webui may run two builds at once).
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 10_000  # CPython's default is 700
SWITCH_INTERVAL = 0.001  # seconds; CPython's default is 0.005

_lock = threading.Lock()
_inside = 0
_saved: tuple[tuple[int, ...], float] = ((), 0.0)


@contextmanager
def tuned_for_build() -> Iterator[None]:
    """Raise the young generation's collection threshold and shorten the switch interval for the block (see
    the module doc); a host's own higher threshold or shorter interval is kept."""
    global _inside, _saved
    with _lock:
        if _inside == 0:
            _saved = (gc.get_threshold(), sys.getswitchinterval())
            thresholds, interval = _saved
            gc.set_threshold(max(thresholds[0], YOUNG_THRESHOLD), *thresholds[1:])
            sys.setswitchinterval(min(interval, SWITCH_INTERVAL))
        _inside += 1
    try:
        yield
    finally:
        with _lock:
            _inside -= 1
            if _inside == 0:
                thresholds, interval = _saved
                gc.set_threshold(*thresholds)
                sys.setswitchinterval(interval)
