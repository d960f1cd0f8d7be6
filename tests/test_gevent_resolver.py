"""The workers' host lookups (web/gevent_resolver.py): an IP address is answered without a pool thread, a name's
answer is kept for CACHE_SECONDS and then looked up again, a failed lookup is not kept, and the shipped gunicorn
config uses it (an upstream named by a host name streams through it)."""

import _socket
import socket
import subprocess
import sys

import gevent
import pytest

from testkit.app import upstream_env
from testkit.gunicorn_app import ROOT, GunicornApp
from testkit.upstream import Script
from tests.test_gunicorn import stream_answer
from web import gevent_resolver


class CountingPool:
    """The hub's real thread pool, counting the calls handed to it."""

    def __init__(self, pool):
        self.pool, self.calls = pool, 0

    def apply(self, function, args=None, kwargs=None):
        """Run `function` on a pool thread, as the pool does, and count it."""
        self.calls += 1
        return self.pool.apply(function, args, kwargs)


@pytest.fixture
def resolver():
    """A resolver on this thread's hub whose pool counts its lookups."""
    made = gevent_resolver.Resolver(gevent.get_hub())
    made.pool = CountingPool(made.pool)
    return made


@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
def test_an_ip_address_is_answered_on_the_loop(resolver, address):
    """No thread for an address, and the same answer as the C library's."""
    args = (address, 8080, 0, socket.SOCK_STREAM, 0, 0)
    assert resolver.getaddrinfo(*args) == _socket.getaddrinfo(*args)
    assert resolver.pool.calls == 0


def test_a_names_answer_is_kept_then_looked_up_again(resolver, monkeypatch):
    """A burst of connections to one host looks it up once; after CACHE_SECONDS it is looked up again."""
    monkeypatch.setattr(gevent_resolver, "CACHE_SECONDS", 0.2)
    first = resolver.getaddrinfo("localhost", 8080, 0, socket.SOCK_STREAM)
    assert ("127.0.0.1", 8080) in [address for *_, address in first]
    assert [resolver.getaddrinfo("localhost", 8080, 0, socket.SOCK_STREAM) for _ in range(50)] == [first] * 50
    assert resolver.pool.calls == 1
    resolver.getaddrinfo("localhost", 9090, 0, socket.SOCK_STREAM)  # another port is another question
    assert resolver.pool.calls == 2
    gevent.sleep(0.3)
    assert resolver.getaddrinfo("localhost", 8080, 0, socket.SOCK_STREAM) == first
    assert resolver.pool.calls == 3


def test_a_failed_lookup_is_not_kept(resolver):
    """A name that does not resolve fails each time it is asked (it may resolve a moment later)."""
    for _ in range(2):
        with pytest.raises(socket.gaierror):
            resolver.getaddrinfo("name.invalid", 80)
    assert resolver.pool.calls == 2


def test_the_shipped_config_uses_it():
    """gunicorn.conf.py sets it before the workers' hub is made."""
    script = ("import runpy, gevent; runpy.run_path('gunicorn.conf.py'); "
              "print(type(gevent.get_hub().resolver).__module__)")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "web.gevent_resolver", result.stderr


def test_an_upstream_named_by_host_name_streams_through_the_workers(upstream):
    """The workers look `localhost` up through it and stream each whole answer."""
    with GunicornApp(upstream_env(upstream, OPENAI_BASE_URL=upstream.url.replace("127.0.0.1", "localhost"))) as app:
        upstream.script = Script(reply=lambda body: body["messages"][-1]["content"] * 20, chunk_chars=4)
        assert [stream_answer(app.url, f"q{i}-") for i in range(3)] == [f"q{i}-" * 20 for i in range(3)]
        assert len(upstream.requests) == 3
