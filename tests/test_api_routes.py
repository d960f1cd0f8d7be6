"""HTTP tests of /healthz, /v1/models and /v1/chat/completions against a scripted upstream (real sockets)."""

import json
import logging
import time

import openai
import pytest
import requests

from chatcore.providers.openai_compat import _lines
from testkit.api_client import (answer_text, ask, assert_closing_the_stream_closes_the_upstream_within_a_second,
                                parsed, read_events, service_writes)
from testkit.app import TEST_KEY, upstream_env
from testkit.upstream import Script, free_port


def test_healthz_and_models_name_the_backend_but_not_the_upstream(upstream, serve):
    server = serve(upstream_env(upstream))
    health = requests.get(f"{server.url}/healthz", timeout=5)
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "backend": "openai-compatible", "store": "ok",
                             "providers": [{"name": "openai-compatible", "status": "ok", "models": 2}]}
    models = requests.get(f"{server.url}/v1/models", timeout=5).json()
    assert [m["id"] for m in models["data"]] == ["scripted", "other"]
    for response in (health, requests.get(f"{server.url}/v1/models", timeout=5)):
        assert upstream.url not in response.text and TEST_KEY not in response.text


def test_stream_relays_the_answer_in_openai_format(upstream, serve):
    server = serve(upstream_env(upstream))
    response = ask(server, "What is Dash?")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    events = read_events(response)
    assert events[-1] == "[DONE]"
    assert events[-2]["choices"][0]["finish_reason"] == "stop"
    assert all(e["object"] == "chat.completion.chunk" for e in events[:-1])
    assert answer_text(events) == "Answer to: What is Dash? (saw 0 earlier messages)"
    # The key is used server-side only: the upstream got it, the client never sees it.
    assert upstream.requests[-1]["headers"]["authorization"] == f"Bearer {TEST_KEY}"
    assert TEST_KEY not in json.dumps(events) and TEST_KEY not in str(response.headers)


def test_non_stream_returns_one_completion(upstream, serve):
    server = serve(upstream_env(upstream))
    body = ask(server, "你好", stream=False).json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "Answer to: 你好 (saw 0 earlier messages)"}
    assert body["choices"][0]["finish_reason"] == "stop"


def test_a_burst_of_chunks_and_a_20k_answer_lose_nothing(upstream, serve):
    server = serve(upstream_env(upstream))
    # 1-character chunks, no delay: 21,000 chunks arrive as fast as the sockets carry them.
    answer = "".join(f"{i % 10}中文" if i % 7 else "\n" for i in range(8_000))
    upstream.script = Script(reply=answer, chunk_chars=1)
    events = read_events(ask(server))
    assert len(answer) > 20_000
    assert answer_text(events) == answer
    assert events[-1] == "[DONE]"


def test_wire_bytes_grow_linearly_with_the_answer(upstream, serve):
    server = serve(upstream_env(upstream))
    sizes = {}
    for n in (2_000, 20_000):
        upstream.script = Script(reply="x" * n, chunk_chars=8)
        sizes[n] = len(ask(server).content)
    per_char = (sizes[20_000] - sizes[2_000]) / 18_000
    # Each 8-character chunk costs the same fixed envelope: bytes = a*n + b, a constant.
    assert sizes[20_000] < 10 * sizes[2_000] + 2_000
    assert abs(sizes[2_000] - (per_char * 2_000)) < 2_000


def test_openai_sdk_can_use_the_app_as_its_backend(upstream, serve):
    server = serve(upstream_env(upstream))
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)
    stream = client.chat.completions.create(model="scripted", stream=True,
                                            messages=[{"role": "user", "content": "ping"}])
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == \
        "Answer to: ping (saw 0 earlier messages)"
    completion = client.chat.completions.create(model="scripted", messages=[{"role": "user", "content": "pong"}])
    assert completion.choices[0].message.content == "Answer to: pong (saw 0 earlier messages)"
    assert [m.id for m in client.models.list()] == ["scripted", "other"]


def test_system_prompt_and_history_reach_the_model(upstream, serve):
    server = serve(upstream_env(upstream, SYSTEM_PROMPT="You are terse."))
    history = [{"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1"},
               {"role": "user", "content": "q2"}]
    events = read_events(requests.post(f"{server.url}/v1/chat/completions", stream=True, timeout=10,
                                       json={"model": "scripted", "messages": history, "stream": True}))
    assert answer_text(events) == "Answer to: q2 (saw 2 earlier messages)"
    assert upstream.requests[-1]["body"]["messages"] == [{"role": "system", "content": "You are terse."}, *history]


def test_closing_the_stream_closes_the_upstream_request_within_a_second(upstream, serve):
    assert_closing_the_stream_closes_the_upstream_within_a_second(serve(upstream_env(upstream)), upstream)


def test_closing_the_stream_mid_burst_closes_the_upstream_request_within_a_second(upstream, serve):
    assert_closing_the_stream_closes_the_upstream_within_a_second(serve(upstream_env(upstream)), upstream, burst=True)


# --- upstream faults: a fitting status and a stable code, never the upstream body ---

FAULTS = [
    (Script(status=401), 502, "upstream_auth_failed"),
    (Script(status=403), 502, "upstream_auth_failed"),
    (Script(status=404), 404, "model_not_found"),
    (Script(status=429), 429, "upstream_rate_limited"),
    (Script(status=500), 502, "upstream_server_error"),
    (Script(status=503), 503, "upstream_server_error"),
    (Script(hang_before_headers=3), 504, "upstream_timeout"),
]


@pytest.mark.parametrize("script,status,code", FAULTS, ids=[f[2] + str(f[0].status) for f in FAULTS])
def test_upstream_http_faults_become_openai_errors(upstream, serve, script, status, code):
    server = serve(upstream_env(upstream, REQUEST_TIMEOUT="1"))
    upstream.script = script
    response = ask(server)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    assert "scripted" not in error["message"]  # the upstream's own body never reaches the client


def test_retry_after_is_passed_on(upstream, serve):
    server = serve(upstream_env(upstream))
    upstream.script = Script(status=429, headers={"Retry-After": "7"})
    response = ask(server)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"


def test_connection_refused_and_dns_failure(serve):
    refused = serve({"OPENAI_API_KEY": TEST_KEY, "OPENAI_BASE_URL": f"http://127.0.0.1:{free_port()}/v1",
                     "MODELS": "scripted"})
    response = ask(refused)
    assert (response.status_code, response.json()["error"]["code"]) == (502, "upstream_unreachable")
    no_dns = serve({"OPENAI_API_KEY": TEST_KEY, "OPENAI_BASE_URL": "http://no-such-host.invalid/v1",
                    "MODELS": "scripted"})
    response = ask(no_dns)
    assert (response.status_code, response.json()["error"]["code"]) == (502, "upstream_unreachable")


@pytest.mark.parametrize("script,code", [
    (Script(reply="partial answer here", chunk_chars=4, cut_after=2), "stream_interrupted"),
    (Script(reply="partial answer here", chunk_chars=4, malformed_after=2), "upstream_bad_response"),
])
def test_mid_stream_faults_keep_the_partial_answer_and_end_with_an_error_event(upstream, serve, script, code):
    server = serve(upstream_env(upstream))
    upstream.script = script
    response = ask(server)
    assert response.status_code == 200  # the stream had started
    events = read_events(response)
    assert answer_text(events) == "partial "
    assert events[-1]["error"]["code"] == code
    assert "[DONE]" not in events


def test_empty_answer_is_an_error(upstream, serve):
    server = serve(upstream_env(upstream))
    upstream.script = Script(reply="")
    events = read_events(ask(server))
    assert events[-1]["error"]["code"] == "empty_answer"
    response = ask(server, stream=False)
    assert (response.status_code, response.json()["error"]["code"]) == (502, "empty_answer")


def test_the_key_never_reaches_a_log_line(upstream, serve, caplog):
    caplog.set_level(logging.DEBUG)
    server = serve(upstream_env(upstream))
    upstream.script = Script(status=401, error_body={"error": {"message": f"Incorrect API key provided: {TEST_KEY}"}})
    ask(server)
    logging.getLogger("test").warning("echo of a secret: %s", TEST_KEY)
    assert "code=upstream_auth_failed" in caplog.text
    records = [r.getMessage() for r in caplog.records]
    assert all(TEST_KEY not in r for r in records[:-1])


# --- bad input: a clear 4xx, never a 500 ---

@pytest.mark.parametrize("payload,status,code", [
    ({"messages": [{"role": "user", "content": "   "}]}, 400, "empty_question"),
    ({"messages": []}, 400, "invalid_messages"),
    ({"messages": "hello"}, 400, "invalid_messages"),
    ({"messages": [{"role": "user", "content": 42}]}, 400, "invalid_messages"),
    ({"messages": [{"role": "wizard", "content": "x"}]}, 400, "invalid_messages"),
    ({"messages": [{"role": "user", "content": "x"}], "temperature": "hot"}, 400, "invalid_temperature"),
    ({"messages": [{"role": "user", "content": "x"}], "stream": "yes"}, 400, "invalid_stream"),
    ({"messages": [{"role": "user", "content": "x"}], "base_url": "http://evil"}, 400, "unknown_field"),
    ({"messages": [{"role": "user", "content": "x"}], "model": "gpt-evil"}, 404, "model_not_found"),
    ({"messages": [{"role": "user", "content": "x" * 8001}]}, 400, "input_too_long"),
    ([1, 2, 3], 400, "invalid_json"),
])
def test_bad_requests_get_clear_4xx(upstream, serve, payload, status, code):
    server = serve(upstream_env(upstream))
    response = requests.post(f"{server.url}/v1/chat/completions", json=payload, timeout=10)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert upstream.requests == []  # nothing bad reached the model


def test_invalid_json_invalid_utf8_and_huge_bodies_are_refused(upstream, serve):
    server = serve(upstream_env(upstream))
    url = f"{server.url}/v1/chat/completions"
    for body in (b"{not json", b'{"messages": [{"role": "user", "content": "\xff\xfe"}]}'):
        response = requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=10)
        assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_json")
    huge = requests.post(url, data=b"x" * (10 * 1024 * 1024), headers={"Content-Type": "application/json"}, timeout=30)
    assert huge.status_code == 413
    assert huge.json()["error"]["code"] == "body_too_large"


def test_control_characters_are_removed_before_the_model(upstream, serve):
    server = serve(upstream_env(upstream))
    read_events(ask(server, "a\x00b\x1bc\td"))
    assert upstream.requests[-1]["body"]["messages"][-1]["content"] == "abc\td"


def test_nothing_the_client_sends_can_change_the_upstream(upstream, serve):
    from testkit.upstream import ScriptedUpstream

    server = serve(upstream_env(upstream))
    with ScriptedUpstream() as attacker:
        headers = {"X-Forwarded-Host": attacker.url, "OpenAI-Base-URL": attacker.url, "X-Upstream": attacker.url,
                   "Host": attacker.url.split("/")[2]}
        response = requests.post(f"{server.url}/v1/chat/completions", headers=headers, timeout=10, json={
            "model": "scripted", "messages": [{"role": "user", "content": "hi"}]})
        assert response.status_code == 200
        refused = requests.post(f"{server.url}/v1/chat/completions", timeout=10, json={
            "model": "scripted", "messages": [{"role": "user", "content": "hi"}], "base_url": attacker.url})
        assert refused.status_code == 400
        assert attacker.requests == [] and len(upstream.requests) == 1


def test_security_headers_on_page_and_api(upstream, serve):
    server = serve(upstream_env(upstream))
    for response in (requests.get(server.url, timeout=10), ask(server, stream=False),
                     requests.get(f"{server.url}/healthz", timeout=5)):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert "frame-ancestors 'self'" in response.headers["Content-Security-Policy"]
        assert "img-src 'self' data: blob:" in response.headers["Content-Security-Policy"]
    # An answer stream is not a document: only nosniff (the rest would be ~170 bytes per turn for nothing).
    stream = ask(server)
    assert stream.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" not in stream.headers and "Referrer-Policy" not in stream.headers


def test_each_failed_turn_logs_exactly_one_line_with_its_cause(upstream, serve, caplog):
    server = serve(upstream_env(upstream))
    caplog.set_level(logging.INFO, logger="chat")
    upstream.script = Script(status=500)
    ask(server)
    upstream.script = Script(reply="abcdefgh", chunk_chars=2, cut_after=1)
    read_events(ask(server))
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("chat failed")]
    assert len(lines) == 2
    assert "code=upstream_server_error" in lines[0] and "cause=InternalServerError" in lines[0]
    assert "code=stream_interrupted" in lines[1]


def test_streams_are_gzipped_event_by_event_when_the_client_accepts_it(upstream, serve):
    import zlib

    server = serve(upstream_env(upstream))
    upstream.script = Script(reply="gzip keeps streaming " * 3, chunk_chars=6, delay=0.1)
    response = ask(server, headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    decoder = zlib.decompressobj(31)
    first_event_at = None
    text = b""
    for raw in response.raw.stream(1024, decode_content=False):
        text += decoder.decompress(raw)
        if first_event_at is None and b'"content":"gzip' in text:
            first_event_at = time.monotonic()  # decodable on its own, before the answer is over
    assert first_event_at < upstream.requests[-1]["finished"]
    assert text.endswith(b"data: [DONE]\n\n")
    plain = ask(server, headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    assert answer_text(read_events(plain)) == "gzip keeps streaming " * 3


# --- merging deltas: fewer chunks on the wire, the first at once, none held past its window, nothing lost ---

def deltas(stop=True):
    from chatcore.providers.base import Finish

    yield from "abcdefghij"
    if stop:
        yield Finish("stop")


def test_a_burst_is_merged_into_one_chunk_after_the_first_delta_which_goes_out_alone():
    writes = list(service_writes(60, deltas()))  # a window no test run reaches: everything after "a" merges
    assert [e["choices"][0]["delta"] for e in parsed(writes[0])] == [{"role": "assistant", "content": ""},
                                                                     {"content": "a"}]
    assert len(writes) == 2
    last = parsed(writes[1])
    assert last[0]["choices"][0]["delta"] == {"content": "bcdefghij"}
    assert last[1]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}
    assert last[2] == "[DONE]"
    assert all(e["object"] == "chat.completion.chunk" and e["id"] == last[0]["id"] for e in last[:2])


def test_without_a_window_every_delta_is_its_own_chunk():
    writes = list(service_writes(0, deltas()))
    assert [parsed(w)[-1]["choices"][0]["delta"].get("content") for w in writes[:-1]] == list("abcdefghij")
    assert parsed(writes[-1])[1:] == ["[DONE]"]


def stalling(release, closed, finish=True):
    """A provider stream that sends "a", "b", then waits for `release` before "c"; sets `closed` when closed."""
    from chatcore.providers.base import Finish

    try:
        yield "a"
        yield "b"
        release.wait(30)  # the model thinks; "b" must not wait for it
        yield "c"
        if finish:
            yield Finish("stop")
    finally:
        closed.set()


def test_a_waiting_delta_is_sent_at_its_deadline_while_the_upstream_is_silent():
    import threading

    release, closed = threading.Event(), threading.Event()
    writes = service_writes(0.05, stalling(release, closed))
    assert parsed(next(writes))[-1]["choices"][0]["delta"]["content"] == "a"
    assert parsed(next(writes))[-1]["choices"][0]["delta"]["content"] == "b"
    assert not release.is_set()  # "b" came out while the upstream was still silent
    release.set()
    rest = [e for w in writes for e in parsed(w)]
    assert answer_text(rest) == "c" and rest[-1] == "[DONE]"
    assert closed.is_set()


def test_without_gevent_stopping_while_the_upstream_is_silent_closes_it_after_its_next_read():
    import threading

    release, closed = threading.Event(), threading.Event()
    writes = service_writes(0.05, stalling(release, closed, finish=False))
    next(writes), next(writes)  # "b" went out at its deadline; the reader is still waiting for the upstream
    writes.close()  # the client went away
    assert not closed.is_set()  # a thread cannot be interrupted inside a read (a greenlet can: test_gunicorn)
    release.set()  # the upstream's next token ends the read: the stream is closed right after
    assert closed.wait(10)


@pytest.mark.parametrize("ending", ["error", "cut"])
def test_waiting_text_is_sent_before_a_mid_stream_error(ending):
    from chatcore.errors import upstream_error

    def failing():
        yield from "abc"
        if ending == "error":
            raise upstream_error(502, "upstream_stream_error", "boom")

    events = [e for w in service_writes(60, failing()) for e in parsed(w)]
    assert answer_text(events[:-1]) == "abc"
    assert events[-1]["error"]["code"] == ("upstream_stream_error" if ending == "error" else "stream_interrupted")


def test_usage_and_an_empty_answer_keep_their_events():
    from chatcore.providers.base import Finish

    def with_usage():
        yield "hi"
        yield Finish("stop", {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2})

    events = [e for w in service_writes(60, with_usage(), include_usage=True) for e in parsed(w)]
    assert [e["choices"][0]["delta"] for e in events[:2]] == [{"role": "assistant", "content": ""}, {"content": "hi"}]
    assert events[-2]["usage"]["total_tokens"] == 2 and events[-1] == "[DONE]"

    def empty():
        yield Finish("stop")

    events = [e for w in service_writes(60, empty()) for e in parsed(w)]
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert events[1]["error"]["code"] == "empty_answer"


def test_each_gzip_write_decodes_on_its_own_and_done_ends_the_gzip_stream():
    import zlib

    from web.api import gzip_events

    writes = [b"data: {\"n\": %d}\n\n" % n for n in range(50)] + [b"data: {}\n\ndata: [DONE]\n\n"]
    decoder = zlib.decompressobj(31)
    pieces = list(gzip_events(w for w in writes))
    assert len(pieces) == len(writes)  # [DONE] and the gzip trailer share the last write
    for n, piece in enumerate(pieces):
        assert decoder.decompress(piece) == writes[n]  # nothing stays behind in the compressor
    assert decoder.eof


def test_a_burst_of_300_one_character_chunks_arrives_merged_and_exact(upstream, serve, monkeypatch):
    import zlib

    from chatcore import service

    monkeypatch.setattr(service, "MERGE_SECONDS", 60)  # every delta after the first one merges
    server = serve(upstream_env(upstream))
    answer = "".join(f"{i % 10}中" if i % 7 else "\n" for i in range(200))[:300]
    upstream.script = Script(reply=answer, chunk_chars=1)
    response = ask(server, headers={"Accept-Encoding": "gzip"})
    body = zlib.decompressobj(31).decompress(response.raw.read(decode_content=False))
    events = [b[6:].decode() if b == b"data: [DONE]" else json.loads(b[6:]) for b in body.split(b"\n\n") if b]
    assert answer_text(events) == answer
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert 0 < len(events[1]["choices"][0]["delta"]["content"]) < 300  # the first read goes out at once, alone
    assert len(events) == 5 and events[-1] == "[DONE]"  # role, first delta, the rest merged, finish, [DONE]
    assert "X-Chat-Trimmed-Messages" not in response.headers  # only sent when messages were trimmed
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)
    stream = client.chat.completions.create(model="scripted", stream=True, messages=[{"role": "user", "content": "q"}])
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == answer


def test_upstream_lines_are_split_whatever_the_reads_and_line_ends():
    body = b'data: {"a": 1}\r\n\r\ndata: {"b": "\xe4\xbd\xa0"}\n\ndata: [DONE]\r\r'
    expected = [b'data: {"a": 1}', b'data: {"b": "\xe4\xbd\xa0"}', b"data: [DONE]"]
    for size in (1, 2, 3, 7, len(body)):  # every way of cutting the body into reads, a CRLF and a UTF-8 char too
        reads = [body[i:i + size] for i in range(0, len(body), size)]
        assert [line for line in _lines(iter(reads)) if line] == expected
    assert list(_lines(iter([b"data: x\n", b"data: no end"]))) == [b"data: x", b"data: no end"]
