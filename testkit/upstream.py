"""A scripted OpenAI-compatible server on loopback (real sockets) that answers, stalls or fails on cue.

Tests and benchmarks set `server.script` to a Script; every request is recorded with its body, and the
moment the client closes a stream early is recorded too (to prove Stop reaches the upstream).
"""

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def default_reply(body):
    """Echo the question and how many earlier messages the model saw (proves multi-turn on/off)."""
    messages = body.get("messages", [])
    question = messages[-1]["content"] if messages else ""
    earlier = len([m for m in messages[:-1] if m.get("role") != "system"])
    return f"Answer to: {question} (saw {earlier} earlier messages)"


def sse(obj):
    """One SSE event: a JSON object, or a raw string such as [DONE]."""
    payload = obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False)
    return f"data: {payload}\n\n".encode()


def chunk_event(model, delta, finish=None):
    """One OpenAI `chat.completion.chunk` event."""
    return sse({"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 0, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})


def usage_event(model, completion_tokens, reasoning_tokens=0):
    """The usage event sent after the finish chunk when the request asks for usage."""
    usage = {"prompt_tokens": 3, "completion_tokens": completion_tokens, "total_tokens": 3 + completion_tokens}
    if reasoning_tokens:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
    return sse({"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 0, "model": model, "choices": [],
                "usage": usage})


def stream_pieces(text, script):
    """The (delta field, text) of every content chunk: the reasoning first, in the script's form, then the answer."""
    size = script.chunk_chars
    split = lambda value: [value[i:i + size] for i in range(0, len(value), size)]  # noqa: E731
    if script.reasoning_form == "think":  # inside the content, as Ollama and llama.cpp send it
        return [("content", piece) for piece in split(f"<think>{script.reasoning}</think>\n\n{text}")]
    reasoning = [(script.reasoning_form, piece) for piece in split(script.reasoning)]
    return reasoning + [("content", piece) for piece in split(text)]


@dataclass
class Script:
    """How the next answers behave; the defaults give a quick, well-formed stream."""

    reply: object = default_reply   # str, or a function of the request body returning the answer text
    chunk_chars: int = 4            # characters per SSE chunk
    delay: float = 0.0              # seconds between chunks
    first_delay: float = 0.0        # seconds before the first chunk (after the headers)
    status: int = 200               # a non-200 status answers with an OpenAI-style error body instead
    headers: dict = field(default_factory=dict)
    error_body: object = None
    cut_after: int | None = None    # close the connection after N chunks, without finish_reason or [DONE]
    malformed_after: int | None = None  # send a chunk that is not JSON after N chunks
    finish_reason: str = "stop"
    hang_before_headers: float = 0.0  # sleep before sending anything (read timeout before first token)
    usage: bool = True              # report token usage when the request asks for it (some backends never do)
    reasoning: str = ""             # the model's reasoning, sent before the answer
    # The delta field that carries the reasoning: "reasoning_content", "reasoning", "both" (the same text in the two,
    # as a backend in transition sends it) or "think" (tags at the start of the content).
    reasoning_form: str = "reasoning_content"
    models: tuple = ("scripted",)   # what GET /models lists
    answer_gate: object = None      # a threading.Event the stream waits for between the reasoning and the answer
    split_utf8: bool = False        # write each chunk in two writes cut inside a multi-byte character


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # the body ends when the connection closes, as a cut stream would

    def log_message(self, *args):
        """Quiet: tests read the recorded requests instead."""

    def do_GET(self):
        """The model list, so clients that probe /v1/models are happy. Every GET is recorded (leak checks)."""
        self.server.owner.gets.append(self.path)
        self._json(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in self.server.owner.script.models]})

    def do_POST(self):
        """Answer a chat completion as the current script says."""
        upstream = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        record = {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body, "closed_early": None,
                  "started": time.monotonic()}
        upstream.requests.append(record)
        script = upstream.script
        if script.hang_before_headers:
            time.sleep(script.hang_before_headers)
        if script.status != 200:
            error = script.error_body or {"error": {"message": f"scripted {script.status}", "type": "x", "code": None}}
            return self._json(script.status, error, script.headers)
        text = script.reply(body) if callable(script.reply) else script.reply
        if body.get("stream"):
            self._stream(text, body, script, record)
        else:
            self._json(200, {"id": "cmpl-1", "object": "chat.completion", "created": 0, "model": body.get("model"),
                             "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                          "finish_reason": script.finish_reason}],
                             "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})

    def _json(self, status, obj, headers=None):
        """Send one JSON response."""
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, text, body, script, record):
        """Send the answer as SSE chunks, then a finish chunk and [DONE] (unless scripted to fail)."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()

        model = body.get("model")

        def event(data):
            cut = next((i + 1 for i, byte in enumerate(data) if byte >= 0xC0), 0) if script.split_utf8 else 0
            if cut:  # the lead byte of the first multi-byte character ends the first write
                self.wfile.write(data[:cut])
                self.wfile.flush()
                time.sleep(0.001)  # so the two writes reach the client as two reads
                data = data[cut:]
            self.wfile.write(data)
            self.wfile.flush()

        pieces = stream_pieces(text, script)
        try:
            if script.first_delay:
                time.sleep(script.first_delay)
            event(chunk_event(model, {"role": "assistant", "content": ""}))
            for n, (kind, piece) in enumerate(pieces):
                if script.cut_after is not None and n >= script.cut_after:
                    return
                if script.malformed_after is not None and n >= script.malformed_after:
                    event(sse("{not json"))
                    return
                if script.answer_gate and kind == "content" and not script.answer_gate.is_set():
                    script.answer_gate.wait(30)
                both = {"reasoning_content": piece, "reasoning": piece}
                event(chunk_event(model, both if kind == "both" else {kind: piece}))
                record.setdefault("first_content_at", time.time())  # wall clock: comparable with a browser's
                if script.delay:
                    time.sleep(script.delay)
            event(chunk_event(model, {}, script.finish_reason))
            if script.usage and body.get("stream_options", {}).get("include_usage"):
                thinking = len([f for f, _ in pieces if f != "content"]) if script.reasoning_form != "think" else 0
                event(usage_event(model, len(pieces), thinking))
            event(sse("[DONE]"))
            record["finished"] = time.monotonic()
        except (BrokenPipeError, ConnectionResetError):
            record["closed_early"] = time.monotonic()


class _Server(ThreadingHTTPServer):
    """A threading server with a deep accept queue, so a burst of connections is not refused."""

    daemon_threads = True
    request_queue_size = 2048


class BackgroundServer:
    """A socket server running in a daemon thread; use as a context manager."""

    def __init__(self, server):
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()


class ScriptedUpstream(BackgroundServer):
    """The scripted OpenAI-compatible server on loopback, with its script and what it received."""

    def __init__(self, host="127.0.0.1", port=0):
        super().__init__(_Server((host, port), _Handler))
        self._server.owner = self
        self.script = Script()
        self.requests = []
        self.gets = []
        self.url = f"http://{host}:{self._server.server_address[1]}/v1"

    def wait_for_close(self, timeout=5.0):
        """Wait until the last request's stream was closed by the client; return when (monotonic) or None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.requests and self.requests[-1]["closed_early"]:
                return self.requests[-1]["closed_early"]
            time.sleep(0.01)
        return None


def free_port():
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_cli(description):
    """The command line of a benchmark upstream (this one and bench/lean_upstream.py take the same)."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("port", type=int)
    parser.add_argument("--chunk-chars", type=int, default=4)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--repeat", type=int, default=1, help="repeat the default answer this many times")
    return parser.parse_args()


def main():
    """Serve the default script from a separate process (benchmarks): `python -m testkit.upstream PORT`."""
    args = parse_cli(main.__doc__)
    upstream = ScriptedUpstream(port=args.port)
    upstream.script = Script(reply=lambda body: default_reply(body) * args.repeat, chunk_chars=args.chunk_chars,
                             delay=args.delay)
    print(f"scripted upstream on {upstream.url}", flush=True)
    upstream._server.serve_forever()


if __name__ == "__main__":
    main()
