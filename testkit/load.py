"""A lean load generator: streaming chats on raw asyncio sockets, and their answers parsed afterwards."""

import asyncio
import json
import re
import time

FIRST_CONTENT = re.compile(rb'"delta":\s*\{"content":\s*"[^"]')


async def one_stream(url, question, delay, open_streams):
    """Stream one answer after `delay` s; returns (first-token seconds, raw SSE body, error or None).

    A lean load generator on purpose (it shares the 2 cores with the system under test): one HTTP/1.0
    request on a raw socket, so the body is plain SSE with no chunked framing, and the only work while
    streaming is finding the first content delta; the answers are parsed and checked after the run.
    """
    host, port, path = _split(url)
    body = json.dumps({"model": "scripted", "stream": True, "messages": [{"role": "user", "content": question}]})
    request = (f"POST {path} HTTP/1.0\r\nHost: {host}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n\r\n{body}").encode()
    await asyncio.sleep(delay)
    started = time.perf_counter()
    open_streams["now"] += 1
    open_streams["peak"] = max(open_streams["peak"], open_streams["now"])
    try:
        return await read_stream(host, port, request, started)
    finally:
        open_streams["now"] -= 1


async def read_stream(host, port, request, started, received=b"", connection=None):
    """Send a raw HTTP/1.0 request (on `connection`, a (reader, writer) already open, or a new one) and read the SSE
    answer to its end; returns (seconds from `started` to the first content delta, the raw bytes after `received`,
    error name or None)."""
    first, received = None, bytearray(received)
    try:
        reader, writer = connection or await asyncio.open_connection(host, port)
        writer.write(request)
        while True:
            data = await reader.read(65536)
            if not data:
                break
            received += data
            if first is None and FIRST_CONTENT.search(received):
                first = time.perf_counter() - started
        writer.close()
    except OSError as exc:
        return first, bytes(received), type(exc).__name__
    return first, bytes(received), None


def _split(url):
    """(host, port, path) of an http:// URL."""
    rest = url.split("//", 1)[1]
    hostport, path = rest.split("/", 1)
    host, port = hostport.split(":")
    return host, int(port), "/" + path


def parse_answer(raw):
    """(answer text, error code or None) of a raw HTTP/1.0 SSE response (200, or 202: a question asked for its
    answer's events)."""
    head, _, body = raw.partition(b"\r\n\r\n")
    if head.split(b" ")[1:2] not in ([b"200"], [b"202"]):
        return "", head.split(b"\r\n")[0].decode(errors="replace")
    parts, done = [], False
    for line in body.split(b"\n"):
        if line == b"data: [DONE]":
            done = True
        elif line.startswith(b"data: {"):
            event = json.loads(line[6:])
            if "error" in event:
                return "".join(parts), event["error"]["code"]
            choices = event.get("choices") or [{}]
            parts.append((choices[0].get("delta") or {}).get("content") or "")
    return "".join(parts), None if done else "no [DONE]"
