"""gunicorn settings for `gunicorn chat_app:server`: threaded workers that hold many long answer streams.

`sync` workers serve one request at a time and kill a stream at `timeout`; `gthread` workers give every
stream its own thread and the timeout only watches the worker's heartbeat, so long answers are fine.
"""

import os

# Render (and most PaaS) give the port in $PORT and need 0.0.0.0; locally we stay on loopback.
bind = f"{os.environ.get('HOST') or ('0.0.0.0' if 'PORT' in os.environ else '127.0.0.1')}:{os.environ.get('PORT', '8050')}"
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "512"))  # concurrent streams per worker
timeout = 120
# On HUP/TERM, workers finish the answers they are streaming for up to this long before exiting.
graceful_timeout = int(os.environ.get("GRACEFUL_TIMEOUT", "120"))
keepalive = 5
accesslog = "-"  # paths and statuses only; keys travel in headers, which are not logged
errorlog = "-"
