"""gunicorn settings for `gunicorn chat_app:server`: event-loop workers that hold many long answer streams.

`sync` workers serve one request at a time and kill a stream at `timeout`. gevent workers run every request
as a greenlet on one event loop per process (sockets, sleeps, locks and queues are monkey-patched, below, before
the app is imported), so an open stream costs a greenlet, not an OS thread, and
`timeout` only watches the worker's heartbeat: long answers are fine. `gthread` (an OS thread per stream) was
measured too and lost at a few hundred streams, its threads contending for the GIL (`python -m bench concurrency`;
the numbers are in the README's performance section). Work that must not run on the loop runs on real OS threads:
the embedded model (chatcore/providers/embedded.py).
"""

# The app is built once, in the master, and the workers are forks of it (`preload_app` below): the imported
# libraries (Dash, the openai SDK, SQLAlchemy, Flask: most of a worker's memory) are then shared, not held once
# per worker. So gevent's monkey-patching, which gunicorn's gevent worker does in each worker before it loads the
# app, must happen here, in the master, before the app is imported: the locks, queues and sockets the app's
# modules make at import are then gevent's, as the worker needs them.
import gevent
from gevent import monkey

# Host lookups: gevent's default, a thread per lookup, except for IP addresses, and with answers kept a few seconds.
gevent.config.resolver = "web.gevent_resolver.Resolver"
monkey.patch_all()

import gc  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402

from config import DEFAULT_HOST, DEFAULT_PORT  # noqa: E402  (gunicorn puts its working directory on sys.path first)

# Render (and most PaaS) give the port in $PORT and need 0.0.0.0; locally we stay on loopback.
_host = os.environ.get("HOST") or ("0.0.0.0" if "PORT" in os.environ else DEFAULT_HOST)
bind = f"{_host}:{os.environ.get('PORT', DEFAULT_PORT)}"
# gunicorn's gevent worker, but accepting a burst of waiting connections per loop turn, not 1 (web/gevent_worker.py).
worker_class = "web.gevent_worker.GeventWorker"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Open connections (streams) per worker; each stream also holds one upstream connection.
worker_connections = int(os.environ.get("GUNICORN_CONNECTIONS", "2000"))
timeout = 120
# On HUP/TERM, workers finish the answers they are streaming for up to this long before exiting.
graceful_timeout = int(os.environ.get("GRACEFUL_TIMEOUT", "120"))
keepalive = 5
# gunicorn 27's control socket runs an asyncio loop on a thread of the master, which the patching above makes a
# greenlet; the app does not use it, and every gunicorn of the user would share its one default path.
control_socket_disable = True
accesslog = "-"  # paths and statuses only; keys travel in headers, which are not logged
errorlog = "-"


# Build the app in the master and fork the workers from it. Work beside requests (threads, greenlets) starts in
# each worker after the fork (post_worker_init). A HUP forks new workers from the same master: they run the app's
# code and settings (environment, .env) as the master loaded them at start, so a change to either needs a
# restart, not a HUP (this file's own settings are still read again).
preload_app = True
# Allocations between collections of the youngest generation in a worker (pre_fork says why; `python -m
# bench.generations held` measures it).
GC_YOUNG_THRESHOLD = 7000


def pre_fork(server, worker):
    """In the master, before each worker is forked: no start-up thread left running, and the garbage collector
    kept off the objects made so far.

    A thread (a greenlet, here) still running at the fork would be copied into the worker half-done; start-up leaves
    only short ones (the rate limits' in-memory storages start a 10 ms expiry timer), so they are waited for.

    The imported modules (the `openai` SDK alone defines thousands of classes) stay for the workers' life. Frozen,
    a collection in a worker never walks them: it would write to every one (the collector's bookkeeping), turning
    the pages the worker shares with the master into copies of its own, and stop the worker's event loop, and so
    all its streams, long enough to show in first-token times under load (README, performance).

    The youngest generation is collected less often than Python's default (every 700 allocations): each event of
    an answer's stream makes short-lived objects (timeouts, frames, the log's entries) while hundreds of streams wait
    with theirs alive, so a collection walks thousands of live objects and frees almost none.
    """
    for thread in threading.enumerate():
        # A _DummyThread is one threading did not start (gevent's resolver pool): it cannot be joined.
        if thread is not threading.current_thread() and not isinstance(thread, threading._DummyThread):
            thread.join(1.0)
            if thread.is_alive():
                server.log.warning("thread %s still runs in the master as a worker is forked", thread.name)
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


STOPS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)


def post_fork(server, worker):
    """In a new worker, before gunicorn gives it its own signal handlers: a stop sent now is not lost.

    Until then the worker runs the master's handlers, which only queue a signal for the master's loop: a TERM from a
    master stopping while this worker boots was dropped, and the master waited `graceful_timeout` to kill it (a
    slow machine's start and stop of the Render command took over 30 s). The default action stops it instead, and a
    stop already queued here since the fork (in this process's copy of the master's queue) ends it now.
    """
    for stop in STOPS:
        signal.signal(stop, signal.SIG_DFL)
    while not server.SIG_QUEUE.empty():
        if server.SIG_QUEUE.get_nowait() in STOPS:
            sys.exit(0)


def post_worker_init(worker):
    """Once the worker is ready to serve: start the app's work beside requests here, in the worker."""
    from chat_app import start_background

    start_background(worker.wsgi)
