"""A client of the app's OpenAI-compatible API: ask a question, read the SSE events, check that Stop reaches the upstream."""

import json
import time

import requests

from testkit.upstream import Script


def ask(server, content="hi", stream=True, headers=None, **body):
    """POST one question to the app; returns the requests.Response (not yet read when streaming)."""
    payload = {"model": "scripted", "messages": [{"role": "user", "content": content}], "stream": stream, **body}
    return requests.post(f"{server.url}/v1/chat/completions", json=payload, stream=stream, timeout=30,
                         headers=headers)


def read_events(response):
    """All SSE data payloads of a streamed response, parsed (the [DONE] marker stays a string)."""
    events = []
    for line in response.iter_lines(decode_unicode=False):
        if line.startswith(b"data: "):
            data = line[6:].decode()
            events.append(data if data == "[DONE]" else json.loads(data))
    return events


def answer_text(events):
    """Concatenate the content deltas of chunk events."""
    return "".join(e["choices"][0]["delta"].get("content") or "" for e in events
                   if isinstance(e, dict) and e.get("choices"))


def assert_closing_the_stream_closes_the_upstream_within_a_second(server, upstream, burst=False):
    """Read a long answer's first text, close the response, and check when the upstream saw the close (`burst`:
    the upstream sends as fast as it can, so the app is reading and has deltas waiting to be merged)."""
    # Either way far more than the app could read in a second.
    upstream.script = (Script(reply="y" * 200_000, chunk_chars=1) if burst else
                       Script(reply="y" * 4000, chunk_chars=2, delay=0.02))
    response = ask(server)
    lines = response.iter_lines()
    while b"yy" not in next(lines):
        pass
    closed_by_client = time.monotonic()
    response.close()
    closed_upstream = upstream.wait_for_close(timeout=5)
    assert closed_upstream is not None, "the upstream stream was never closed"
    assert closed_upstream - closed_by_client < 1.0


def service_writes(merge_seconds, provider_items, include_usage=False):
    """A ChatService's SSE writes for a fake provider stream (a generator function's generator)."""
    from types import SimpleNamespace

    from chatcore.service import ChatService

    service = ChatService(None, SimpleNamespace(name="fake"), merge_seconds=merge_seconds)
    events = provider_items
    first = next(events)
    return service.sse(SimpleNamespace(model="m", include_usage=include_usage), first, events)


def parsed(write):
    """The SSE data payloads in one write."""
    return [b[6:].decode() if b == b"data: [DONE]" else json.loads(b[6:]) for b in write.split(b"\n\n") if b]
