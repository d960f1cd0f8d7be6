"""gunicorn's gevent worker, accepting a burst of waiting connections per event-loop turn instead of one.

With more than one worker, gunicorn makes each worker's gevent server accept one connection per turn of its
event loop (to spread connections over the workers). A turn that serves hundreds of open streams is slow under
load, so a burst of new chats queued in the listen backlog while the workers served the streams already open,
and their first tokens came late (`python -m bench concurrency`; before/after numbers in the README's
performance section). Both workers still wake for new connections, so each takes its share.
"""

from gevent.server import StreamServer
from gunicorn.workers import ggevent

ACCEPT_BURST = 100  # gevent's default for StreamServer.max_accept


class _BurstStreamServer(StreamServer):
    """A StreamServer whose max_accept stays ACCEPT_BURST whatever gunicorn sets it to."""

    max_accept = property(lambda self: ACCEPT_BURST, lambda self, value: None)


class GeventWorker(ggevent.GeventWorker):
    """gunicorn's gevent worker with burst accepts and a wait for running answers when it stops."""

    def run(self):
        """Serve as gunicorn's worker does, with the burst-accepting server class."""
        # run() builds its servers from this module-level name; replaced in this worker process only.
        ggevent.StreamServer = _BurstStreamServer
        super().run()
        # Requests are done; answers belong to no request (chatcore/generations.py): on a graceful stop or
        # reload, finish them too before the process exits.
        from chatcore.generations import wait_until_idle

        wait_until_idle(self.cfg.graceful_timeout, tick=self.notify)
