"""gunicorn settings for `gunicorn chat_app:server`: event-loop workers that hold many long answer streams.

`sync` workers serve one request at a time and kill a stream at `timeout`. gevent workers run every request
as a greenlet on one event loop per process (sockets, sleeps, locks and queues are monkey-patched when the
worker starts, before the app is imported), so an open stream costs a greenlet, not an OS thread, and
`timeout` only watches the worker's heartbeat: long answers are fine. `gthread` (an OS thread per stream) was
measured too and lost at a few hundred streams, its threads contending for the GIL (`python -m bench concurrency`;
the numbers are in the README's performance section). Work that must not run on the loop runs on real OS threads:
the embedded model (chatcore/providers/embedded.py).
"""

import os

from config import DEFAULT_HOST, DEFAULT_PORT  # gunicorn puts its working directory on sys.path first

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
accesslog = "-"  # paths and statuses only; keys travel in headers, which are not logged
errorlog = "-"


def post_worker_init(worker):
    """Once the app is loaded in a worker: keep the garbage collector off the objects that live for good.

    The imported modules (the `openai` SDK alone defines thousands of classes) stay for the worker's life;
    without this, every full collection walked them all and stopped the worker's event loop, and so all
    its streams, long enough to show in first-token times under load (README, performance).
    """
    import gc

    gc.collect()
    gc.freeze()
