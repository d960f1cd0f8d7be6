"""The CPU one upstream request costs the app before its answer's chunks: the SDK call and the host lookup.

Each request of a burst opens a new connection and makes one SDK call, so this cost is paid per answer, in the
same burst as everything else (README, performance). In one process, against the lean upstream (a one-chunk
answer, so the chunks cost little), taking turns for ROUNDS rounds:
- the SDK's typed method (`chat.completions.with_streaming_response.create`, the app's call before),
- the SDK's plain POST of the body (the app's call: chatcore/providers/openai_compat.py),
- the same request through the SDK's httpx client alone (what the SDK adds: the difference).
Then, under gevent (a child process patched as the workers are), one host lookup: gevent's default resolver (a
pool thread per lookup) and the workers' (web/gevent_resolver.py), for an IP address and for `localhost`.
Then a request started (to its first text) and closed while HELD other answers are open in the same provider: with
all in one connection pool (httpx walks every connection of a pool when a request starts or ends) and spread over
the provider's clients of STREAMS_PER_CLIENT (the app's), the two taking turns.

    python -m bench upstream_request
"""

import os
import subprocess
import sys
import time
from types import SimpleNamespace

from bench import lean_upstream
from bench.common import median, print_table
from testkit.gunicorn_app import ROOT

REQUESTS, ROUNDS, LOOKUPS = 300, 3, 2000
HELD = 500  # answers open beside the timed ones: a worker's share of 1,000
LOOKUP_SCRIPT = """
from gevent import monkey; monkey.patch_all()
import socket, sys, time
t = time.process_time()
for _ in range({n}):
    socket.getaddrinfo(sys.argv[1], 8080, 0, socket.SOCK_STREAM)
print((time.process_time() - t) / {n} * 1e6)
"""


def lookup_us(resolver, host):
    """CPU µs per getaddrinfo under gevent with this resolver."""
    env = {**os.environ, "GEVENT_RESOLVER": resolver, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", LOOKUP_SCRIPT.format(n=LOOKUPS), host], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=120, check=True)
    return float(result.stdout)


def with_streams_open():
    """CPU µs per request started and closed beside HELD open answers: {way: [µs per round]}."""
    from chatcore.providers import openai_compat

    url, upstream = lean_upstream.start(8, 60.0, 1)  # a chunk, then quiet: the held answers stay open, costing nothing
    request = SimpleNamespace(model="m", messages=[{"role": "user", "content": "hi"}], temperature=None,
                              max_tokens=None, include_usage=False)
    shipped = openai_compat.STREAMS_PER_CLIENT
    try:
        providers, held = {}, []
        for way, per_client in (("one pool", HELD + REQUESTS), (f"clients of {shipped} (shipped)", shipped)):
            openai_compat.STREAMS_PER_CLIENT = per_client  # read when a stream picks its client
            providers[way] = (openai_compat.OpenAICompatibleProvider("sk-bench", url, 60), per_client)
            for _ in range(HELD):
                stream = providers[way][0].stream(request)
                next(stream)
                held.append(stream)
        times = {way: [] for way in providers}
        for _ in range(ROUNDS):
            for way, (provider, per_client) in providers.items():
                openai_compat.STREAMS_PER_CLIENT = per_client
                started = time.process_time()
                for _ in range(REQUESTS):
                    stream = provider.stream(request)
                    next(stream)
                    stream.close()
                times[way].append((time.process_time() - started) / REQUESTS * 1e6)
        for stream in held:
            stream.close()
    finally:
        openai_compat.STREAMS_PER_CLIENT = shipped
        upstream.terminate()
    return times


def main():
    """Time the three ways of asking, then the lookups, then a request beside open answers; print the tables."""
    import openai

    from chatcore.providers.openai_compat import OpenAICompatibleProvider

    url, upstream = lean_upstream.start(8, 0, 1)
    messages = [{"role": "user", "content": "How far is the moon?"}]
    try:
        client = openai.OpenAI(api_key="sk-bench", base_url=url, max_retries=0)
        provider = OpenAICompatibleProvider("sk-bench", url, 30)
        request = SimpleNamespace(model="m", messages=messages, temperature=None, max_tokens=None,
                                  include_usage=True)

        def typed():
            with client.chat.completions.with_streaming_response.create(
                    model="m", messages=messages, stream=True, stream_options={"include_usage": True}) as response:
                for _ in response.http_response.iter_bytes():
                    pass

        def shipped():
            for _ in provider.stream(request):
                pass

        def httpx_alone():
            body = {"model": "m", "messages": messages, "stream": True, "stream_options": {"include_usage": True}}
            with client._client.stream("POST", f"{url}/chat/completions", json=body) as response:
                for _ in response.iter_bytes():
                    pass

        ways = {"SDK typed method (before)": typed, "SDK plain POST (shipped)": shipped,
                "httpx alone (no SDK)": httpx_alone}
        times = {name: [] for name in ways}
        for way in ways.values():
            way()  # warm-up: imports, the first connection
        for _ in range(ROUNDS):
            for name, way in ways.items():
                started = time.process_time()
                for _ in range(REQUESTS):
                    way()
                times[name].append((time.process_time() - started) / REQUESTS * 1e6)
    finally:
        upstream.terminate()
    base = times["SDK typed method (before)"]
    print_table(f"CPU per upstream request (one-chunk answer, a new connection each), {REQUESTS} × {ROUNDS} rounds "
                "taking turns", [[name, f"{median(t):.0f}", " / ".join(f"{x:.0f}" for x in t),
                                  f"{median([x / b for x, b in zip(t, base)]):.2f}"] for name, t in times.items()],
                ["way", "µs (median)", "each round", "ratio to the typed method (same round)"])
    rows = [[host, f"{lookup_us('thread', host):.1f}", f"{lookup_us('web.gevent_resolver.Resolver', host):.1f}"]
            for host in ("127.0.0.1", "localhost")]
    print_table(f"CPU per host lookup under gevent ({LOOKUPS} lookups)", rows,
                ["host", "gevent's thread resolver µs", "the workers' resolver µs"])
    times = with_streams_open()
    base = times["one pool"]
    print_table(f"CPU per request started (to its first text) and closed beside {HELD} open answers, {REQUESTS} × "
                f"{ROUNDS} rounds taking turns", [[way, f"{median(t):.0f}", " / ".join(f"{x:.0f}" for x in t),
                                                   f"{median([x / b for x, b in zip(t, base)]):.2f}"]
                                                  for way, t in times.items()],
                ["connection pools", "µs (median)", "each round", "ratio to one pool (same round)"])


if __name__ == "__main__":
    main()
