"""A lean stand-in for testkit/upstream.py's default script, for load benchmarks.

The scripted upstream runs one OS thread per stream; at 1,000 streams those threads cost over half a core and
fight over the GIL (its first tokens then stall for up to ~0.5 s in bursts), on the same 2 cores as the app
under test. This one is a single asyncio event loop with one timer per open stream. It sends the same bytes
at the same pace: the role chunk, then one chunk of `--chunk-chars` characters of the default reply (repeated
`--repeat` times) every `--delay` seconds, the finish chunk and [DONE], as HTTP/1.0 (the body ends when the
connection closes). It only answers streaming POSTs; the tests keep using the scripted upstream.

    python -m bench.lean_upstream PORT --chunk-chars 8 --delay 0.1 --repeat 15
"""

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from testkit.upstream import chunk_event, default_reply, free_port, parse_cli, sse, usage_event

ROOT = Path(__file__).resolve().parent.parent

HEAD = b"HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"
NOT_FOUND = b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n"


def answer_events(body, chunk_chars, repeat):
    """The whole answer to one request body, as the list of writes the scripted upstream would make."""
    text = default_reply(body) * repeat
    model = body.get("model")
    pieces = [text[i:i + chunk_chars] for i in range(0, len(text), chunk_chars)]
    tail = [chunk_event(model, {}, "stop")]
    if (body.get("stream_options") or {}).get("include_usage"):
        tail.append(usage_event(model, len(pieces)))
    tail.append(sse("[DONE]"))
    # The scripted upstream sleeps after every piece, the last one too, and sends its tail at once.
    return [HEAD + chunk_event(model, {"role": "assistant", "content": ""}) + chunk_event(model, {"content": pieces[0]})] + \
        [chunk_event(model, {"content": piece}) for piece in pieces[1:]] + [b"".join(tail)]


class Stream(asyncio.Protocol):
    """One connection: read a POST, then write its events on a timer and close."""

    def __init__(self, chunk_chars, delay, repeat):
        self.chunk_chars, self.delay, self.repeat = chunk_chars, delay, repeat
        self.received = b""
        self.events = None
        self.timer = None

    def connection_made(self, transport):
        """Keep the transport."""
        self.transport = transport

    def data_received(self, data):
        """Buffer until the request is complete, then start the answer."""
        if self.events is not None:
            return
        self.received += data
        head, found, rest = self.received.partition(b"\r\n\r\n")
        if not found:
            return
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if len(rest) < length:
            return
        if not head.startswith(b"POST "):
            self.transport.write(NOT_FOUND)
            self.transport.close()
            return
        body = json.loads(rest[:length] or b"{}")
        events = answer_events(body, self.chunk_chars, self.repeat)
        self.events, self.left = iter(events), len(events) - 1
        self.send_next()

    def send_next(self):
        """Write the next event and schedule the one after it; close after the last."""
        if self.transport.is_closing():
            return
        self.transport.write(next(self.events))
        if self.left:
            self.left -= 1
            self.timer = asyncio.get_running_loop().call_later(self.delay, self.send_next)
        else:
            self.transport.close()

    def connection_lost(self, exc):
        """The client went away (or we closed): stop the timer."""
        if self.timer is not None:
            self.timer.cancel()


async def serve(port, chunk_chars, delay, repeat):
    """Listen on loopback and serve until killed."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Stream(chunk_chars, delay, repeat), "127.0.0.1", port, backlog=4096)
    print(f"lean upstream on http://127.0.0.1:{port}/v1", flush=True)
    await server.serve_forever()


def start(chunk_chars, delay, repeat, module=__name__):
    """This upstream (or `module`, another with the same command line) in a process of its own on a free port, once
    it listens; returns (its /v1 URL, the process)."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", module, str(port), "--chunk-chars", str(chunk_chars), "--delay",
                                str(delay), "--repeat", str(repeat)], cwd=ROOT, stdout=subprocess.PIPE)
    process.stdout.readline()  # it prints its address once it listens
    return f"http://127.0.0.1:{port}/v1", process


def main():
    """`python -m bench.lean_upstream PORT [--chunk-chars N] [--delay S] [--repeat N]`."""
    args = parse_cli(main.__doc__)
    asyncio.run(serve(args.port, args.chunk_chars, args.delay, args.repeat))


if __name__ == "__main__":
    main()
