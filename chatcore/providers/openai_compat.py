"""Any OpenAI-compatible backend (OpenAI, DeepSeek, Ollama, vLLM, llama.cpp server…) through the `openai` SDK."""

import json
import threading

from ..errors import ChatError, from_upstream_exception, upstream_error
from ..os_thread import taking_turns
from .base import Finish, Provider, Reasoning

# Where backends put the reasoning in a stream delta: DeepSeek, Qwen/DashScope and vLLM; OpenRouter and some vLLM.
REASONING_FIELDS = ("reasoning_content", "reasoning")
# Streams per SDK client: each client's connection pool walks all its connections whenever a request starts or ends,
# so a worker with hundreds of answers open spreads them over several clients (_client_for_stream).
STREAMS_PER_CLIENT = 32


class OpenAICompatibleProvider(Provider):
    """Streams chat completions from a configured base URL with a server-side key."""

    def __init__(self, api_key, base_url, timeout, name="openai-compatible"):
        self.name = name
        self._api_key = api_key
        self._base_url = base_url or None
        self._timeout = timeout
        self._lock = threading.Lock()
        # Built now, with the app, not by the first question: under gunicorn's gevent worker every stream of a
        # worker shares one event loop, and the SDK's import (~0.5 s), TLS context and platform probe
        # (a subprocess) would stall them all.
        import httpx2

        self._ssl_context = httpx2.create_ssl_context()  # loading the CA certificates takes ~50 ms: once
        first = self._new_client()
        first.default_headers  # noqa: B018 - computes (and caches) the platform headers now
        self._clients = [[first, 0]]  # [SDK client, streams open on it]

    def _new_client(self):
        """An SDK client with a connection pool of its own (it reads the proxy env vars now)."""
        import httpx2
        import openai

        timeout = httpx2.Timeout(self._timeout, connect=min(10.0, self._timeout))
        return openai.OpenAI(
            # Local servers (Ollama, llama.cpp) need no key, but the SDK insists on one.
            api_key=self._api_key or "no-key",
            base_url=self._base_url,
            # Read timeout bounds the wait for each chunk, so long answers are fine.
            timeout=timeout,
            # The user has a retry button; silent SDK retries would only delay the error.
            max_retries=0,
            # Idle connections kept for reuse: a client's share of streams, so all clients together keep no more
            # than the most streams ever open at once (one client of the SDK's defaults kept up to 100).
            http_client=openai.DefaultHttpxClient(verify=self._ssl_context, timeout=timeout, limits=httpx2.Limits(
                max_connections=None, max_keepalive_connections=STREAMS_PER_CLIENT)),
        )

    def _client_for_stream(self):
        """The first [client, streams] with room for one more stream (counted here; the caller counts it out), or
        a new client."""
        with self._lock:
            entry = next((entry for entry in self._clients if entry[1] < STREAMS_PER_CLIENT), None)
            if entry is None:
                entry = [self._new_client(), 0]
                self._clients.append(entry)
            entry[1] += 1
            return entry

    def _stream_ended(self, entry):
        """Count a stream out of its client."""
        with self._lock:
            entry[1] -= 1

    def list_models(self):
        """The model names the backend offers (its /models), for providers configured with models = "auto"."""
        return [model.id for model in self._clients[0][0].models.list()]

    def stream(self, request):
        """Yield answer deltas, then a Finish whose reason is None if the stream was cut early."""
        kwargs = {"model": request.model, "messages": request.messages, "stream": True}
        if request.temperature is not None:
            kwargs["temperature"] = request.temperature
        if request.max_tokens is not None:
            kwargs["max_tokens"] = request.max_tokens
        if request.include_usage:
            kwargs["stream_options"] = {"include_usage": True}
        entry = self._client_for_stream()
        try:
            yield from self._stream_on(entry[0], kwargs)
        finally:  # also when Stop kills the reading greenlet mid-request
            self._stream_ended(entry)

    def _stream_on(self, client, kwargs):
        """The stream itself, on one SDK client.

        The SDK sends the request and raises its typed errors. The body goes as the SDK's plain POST (its documented
        way for custom requests): the typed method walks the body against its parameter types and wraps the
        response, about half the SDK's own CPU per request, and the service has already checked the body. The SSE
        body is read here as plain JSON, because building the SDK's pydantic chunk objects was the largest CPU cost
        per chunk under load, and split into lines here too: the SDK's iter_lines decodes and re-splits every read
        in two more layers; each read takes turns with the worker's other streams (taking_turns).
        """
        import httpx2  # imported with the SDK by __init__

        try:
            response = client.post("/chat/completions", body=kwargs, cast_to=httpx2.Response, stream=True)
        except Exception as exc:  # the SDK raises many types; all become a safe ChatError
            raise from_upstream_exception(exc) from exc
        reason, usage = None, None
        try:
            for line in _lines(taking_turns(response.iter_bytes())):
                if not line.startswith(b"data:"):
                    continue
                data = line[5:].strip()
                if data == b"[DONE]":
                    break
                event = _parse_event(data)
                usage = event.get("usage") or usage
                for choice in event.get("choices") or ():
                    if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                        continue
                    delta = choice.get("delta") or {}
                    # The first field present only: a backend in transition may send the same text in both.
                    reasoning = next((delta[f] for f in REASONING_FIELDS if delta.get(f)), None)
                    if isinstance(reasoning, str):
                        yield Reasoning(reasoning)
                    if delta.get("content"):
                        yield delta["content"]  # a leading think tag is split by the service
                    reason = choice.get("finish_reason") or reason
        except (GeneratorExit, ChatError):
            raise
        except Exception as exc:
            raise from_upstream_exception(exc) from exc
        finally:
            # Closing the HTTP response ends generation (and billing) on the backend when the user stops.
            response.close()
        # A stream cut before [DONE] can end like a normal one: a missing finish_reason tells us.
        yield Finish(reason, usage)


def _lines(chunks):
    """The lines of a byte stream, without their ends (LF, CRLF or CR, as in SSE)."""
    pending = b""
    for chunk in chunks:
        lines = (pending + chunk).splitlines(keepends=True) if pending else chunk.splitlines(keepends=True)
        # A last line with no end yet continues in the next read. (A CRLF split between two reads gives one
        # extra empty line, which SSE ignores as we do.)
        pending = lines.pop() if lines and not lines[-1].endswith((b"\n", b"\r")) else b""
        for line in lines:
            yield line.rstrip(b"\r\n")
    if pending:
        yield pending


def _parse_event(data):
    """One SSE data payload (bytes) as a dict; upstream error events and junk become ChatErrors."""
    try:
        event = json.loads(data)
    except ValueError:
        raise upstream_error(502, "upstream_bad_response", "The model server sent a chunk that is not JSON.") from None
    if not isinstance(event, dict):
        raise upstream_error(502, "upstream_bad_response", "The model server sent an unexpected chunk.")
    if event.get("error"):
        raise upstream_error(502, "upstream_stream_error", "The model server reported an error during the answer.")
    return event
