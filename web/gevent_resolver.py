"""gevent's default resolver (each lookup on a thread of the hub's pool), but an IP address is not looked up and a
name's answer is reused for a few seconds.

Every new connection to the upstream or to Redis looks its host up, and a burst of questions opens one each.
Handing a lookup to a pool thread and back costs the event loop far more CPU than the lookup itself (measured in
the README's performance section), so an IP address is answered on the loop (it is parsed, not looked up), and a
name's answer is kept for CACHE_SECONDS: a burst pays for one lookup, and a changed DNS record is seen seconds later.
"""

import _socket  # the C module: gevent patches `socket`, not this
import ipaddress
import time

from gevent.resolver.thread import Resolver as ThreadResolver

CACHE_SECONDS = 10.0
CACHE_ENTRIES = 256  # hosts an app talks to: a few; past this many, the kept answers are dropped


def _is_address(host) -> bool:
    """True for an IP address (v4 or v6) given as text, which needs no lookup."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class Resolver(ThreadResolver):
    """gevent's thread resolver with getaddrinfo answering addresses on the loop and keeping names' answers."""

    def __init__(self, hub=None):
        """The thread resolver of `hub`, with no answers kept yet."""
        super().__init__(hub)
        self._answers = {}  # the lookup's arguments -> (until when it is kept, monotonic; the answer)

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        """socket.getaddrinfo: on the loop for an address, else a kept answer or a lookup on a pool thread."""
        if isinstance(host, str) and _is_address(host):
            return _socket.getaddrinfo(host, port, family, type, proto, flags | _socket.AI_NUMERICHOST)
        key, now = (host, port, family, type, proto, flags), time.monotonic()
        kept = self._answers.get(key)
        if kept is not None and kept[0] > now:
            return kept[1]
        answer = super().getaddrinfo(host, port, family, type, proto, flags)  # a failure raises: not kept
        if len(self._answers) >= CACHE_ENTRIES:
            self._answers.clear()
        self._answers[key] = (now + CACHE_SECONDS, answer)
        return answer
