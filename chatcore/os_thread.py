"""Work beside the requests: real OS threads (also under gunicorn's gevent worker, where `threading.Thread` would
start a greenlet), and light background tasks (greenlets under gevent)."""

import sys
import threading
import time

# The longest a greenlet may keep the event loop while the data it reads is already there (taking_turns).
TURN_SECONDS = 0.005


def gevent_patched() -> bool:
    """True when gevent has monkey-patched threading (gunicorn's gevent worker)."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and monkey.is_module_patched("threading")


def start_os_thread(target, *args, name="worker"):
    """Run `target(*args)` on a real OS thread: CPU-bound work there never stalls the worker's event loop."""
    if gevent_patched():
        from gevent.monkey import get_original

        get_original("_thread", "start_new_thread")(target, args)
    else:
        threading.Thread(target=target, args=args, name=name, daemon=True).start()


def run_off_loop(function, *args):
    """`function(*args)` on a real OS thread under gevent (the calling greenlet waits; the worker's other
    streams go on), a plain call otherwise; returns its result or raises its exception."""
    if gevent_patched():
        import gevent

        return gevent.get_hub().threadpool.apply(function, args)
    return function(*args)


def spawn(function, *args):
    """Run function(*args) on its own: a greenlet under gevent (a patched Thread's start() waits for the loop to
    come round, which under a burst of questions held every request for most of a second), else a daemon thread."""
    if gevent_patched():
        import gevent

        gevent.spawn(function, *args)
    else:
        threading.Thread(target=function, args=args, daemon=True).start()


def taking_turns(items):
    """The items, letting the event loop go round whenever taking them has kept it for TURN_SECONDS.

    Under gevent, a read whose data has already arrived returns without a switch: the reader of an upstream that
    sends faster than the worker keeps up would keep the worker's event loop, and so every other stream and its own
    writer (which finds out that its viewer left), until that upstream paused. Without gevent, threads take turns.
    """
    if not gevent_patched():
        yield from items
        return
    import gevent

    loop = gevent.get_hub().loop
    seen, since = loop.iteration, time.monotonic()  # the loop's turns so far (libev's count), and since when
    for item in items:
        yield item
        if loop.iteration != seen:  # the read waited: the loop went round meanwhile
            seen, since = loop.iteration, time.monotonic()
        elif time.monotonic() - since >= TURN_SECONDS:
            gevent.sleep(0)
            seen, since = loop.iteration, time.monotonic()
