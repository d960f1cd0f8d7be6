"""Server-owned generations against today's stateless /v1 path: worker CPU per upstream chunk, and resume latency.

The same N streams (the lean upstream's answers, in its own process) go through gunicorn's shipped config four
ways, one after the other: POST /v1/chat/completions (today's path), then POST /api/conversations/<id>/messages +
GET /api/generations/<gid>/events with the log in files (no REDIS_URL: the workers share them), then the same with
the log in a real Redis, then the POST alone asked for its events (Accept: text/event-stream). Each way runs short
answers and long ones; the workers' CPU seconds then split into a cost per upstream chunk (the slope between the
two) and a cost per answer (the requests, the store writes). The four ways take turns for BENCH_ROUNDS rounds (the
machine's noise drifts): the table gives each way's median and its median ratio to /v1 in the same round.
Resume latency: with one long answer running, GET …/events with a Last-Event-ID some events back
(a reload), timed until the first text arrives; R times, median and p99.

Held streams: H answers (~8 s each, the concurrency benchmark's pace) all started in the same instant (or evenly
over BENCH_RAMP seconds) and held open together, straight to the upstream (its own first token: the overhead is
each path's p99 minus it), through /v1 (the same-run baseline), then POST …/messages + GET …/events on two
connections with the log in files and in Redis, then both on one kept-alive connection (as requests, httpx and
browsers send them: the GET reaches the worker that generates), then the POST alone asked for its events; errors,
wrong answers, and the first-token delay (from the first request sent to the first text read, so the two-request
paths pay both) p50 and p99.

    python -m bench generations            # N = 100, 3 rounds, H = 500
    BENCH_STREAMS=300 BENCH_ROUNDS=5 python -m bench generations
    python -m bench.generations held       # the held streams alone (BENCH_HELD=1000 for more)
    BENCH_HELD=1000 BENCH_RAMP=5 python -m bench.generations held   # 1,000 started over 5 s
"""

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import time

import redis
import requests

from bench import lean_upstream
from bench.common import median, percentile, print_table
from bench.concurrency import Sampler, busy_seconds
from testkit.gunicorn_app import GunicornApp
from testkit.load import _split, one_stream, parse_answer, read_stream
from testkit.upstream import free_port
from testkit.waiting import wait_until

CHUNK_CHARS, DELAY, REPEAT = 8, 0.02, 5
# The upstream echoes the question in its answer: a short one gives ~26 chunks (~0.5 s), a long one ~180 (~3.6 s).
PADDING = {"short": "", "long": "x" * 244}
RAMP = 2.0
RESUMES = 50
HELD_CHUNK_CHARS, HELD_DELAY, HELD_REPEAT = 8, 0.1, 15  # ~630 characters over ~8 s: every stream stays open
ASK_FOR_EVENTS = "Accept: text/event-stream\r\n"  # the header of a question asked for its answer's events


def _request(host, method, path, body=None, headers="", version="1.0"):
    """The bytes of one HTTP/1.0 (or `version`) request with a JSON body."""
    data = json.dumps(body).encode() if body is not None else b""
    return (f"{method} {path} HTTP/{version}\r\nHost: {host}\r\nContent-Type: application/json\r\n{headers}"
            f"Content-Length: {len(data)}\r\n\r\n".encode() + data)


async def _http(host, port, method, path, body=None, headers=""):
    """One HTTP/1.0 request on a raw socket; returns the raw response."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(_request(host, method, path, body, headers))
    raw = await reader.read()
    writer.close()
    return raw


def _question(conversation_id, question):
    """The path and JSON body that ask `question` in a conversation."""
    return f"/api/conversations/{conversation_id}/messages", {"content": question, "model": "scripted"}


def _asked(raw):
    """A question's raw response as (its generation id, the raw response, None), or (None, the raw response, its
    status line) when refused."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status = head.split(b"\r\n")[0]
    if b" 202 " not in status:
        return None, raw, status.decode()
    return json.loads(body)["generation_id"], raw, None


async def _ask(host, port, conversation_id, question):
    """Ask `question` (POST …/messages) on a connection of its own; returns what _asked() does."""
    return _asked(await _http(host, port, "POST", *_question(conversation_id, question)))


async def v1_stream(url, question, delay):
    """Today's path: one streamed /v1 answer; returns (raw response, error or None)."""
    host, port, path = _split(url + "/v1/chat/completions")
    await asyncio.sleep(delay)
    try:
        return await _http(host, port, "POST", path, {"model": "scripted", "stream": True,
                                                      "messages": [{"role": "user", "content": question}]}), None
    except OSError as exc:
        return b"", type(exc).__name__


async def generation_stream(url, conversation_id, question, delay, one_request=False):
    """The new path: ask in a conversation, then read the generation's events (or, `one_request`, read them from
    the POST itself); returns (raw events, error)."""
    host, port, _ = _split(url + "/x")
    await asyncio.sleep(delay)
    try:
        if one_request:
            return await _http(host, port, "POST", *_question(conversation_id, question), ASK_FOR_EVENTS), None
        gid, raw, refused = await _ask(host, port, conversation_id, question)
        if refused:
            return raw, refused
        return await _http(host, port, "GET", f"/api/generations/{gid}/events"), None
    except OSError as exc:
        return b"", type(exc).__name__


async def _ask_kept_alive(host, port, conversation_id, question):
    """Ask `question` on a new HTTP/1.1 connection that stays open, as requests, httpx and browsers keep theirs;
    returns what _asked() does, then the open (reader, writer) (None when refused: it is closed)."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(_request(host, "POST", *_question(conversation_id, question), version="1.1"))
    head = await reader.readuntil(b"\r\n\r\n")
    asked = _asked(head + await reader.readexactly(int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)[1])))
    if asked[2]:
        writer.close()
        return *asked, None
    return *asked, (reader, writer)


def expected_answer(question):
    """What the lean upstream answers to `question`."""
    return f"Answer to: {question} (saw 0 earlier messages)" * REPEAT


def run(app, n, path, conversations, length):
    """N streams started over RAMP seconds one way; returns (errors, wrong answers, worker CPU s, chunks)."""
    questions = [f"q{i:05d}{PADDING[length]}" for i in range(n)]

    async def all_streams():
        if path == "v1":
            tasks = [v1_stream(app.url, questions[i], RAMP * i / n) for i in range(n)]
        else:
            tasks = [generation_stream(app.url, conversations[i], questions[i], RAMP * i / n, path == "one request")
                     for i in range(n)]
        return await asyncio.gather(*tasks)

    with Sampler(app.process.pid) as sampler:
        before = sampler.cpu_seconds()
        results = asyncio.run(all_streams())
        cpu = sampler.cpu_seconds() - before
    errors = [error for _, error in results if error]
    wrong = sum(1 for i, (raw, error) in enumerate(results)
                if not error and parse_answer(raw) != (expected_answer(questions[i]), None))
    chunks = sum(-(-len(expected_answer(question)) // CHUNK_CHARS) for question in questions)
    return errors, wrong, cpu, chunks


def resume_latencies(app, conversation_id):
    """With one long answer running, reconnect RESUMES times from a few events back; ms to the first text."""
    session = requests.Session()
    gid = session.post(f"{app.url}/api/conversations/{conversation_id}/messages",
                       json={"content": "resume" + PADDING["long"], "model": "scripted"}).json()["generation_id"]
    ids = []
    with session.get(f"{app.url}/api/generations/{gid}/events", stream=True, timeout=60) as response:
        for line in response.iter_lines():
            if line.startswith(b"id: "):
                ids.append(line[4:].decode())
            if len(ids) >= 10:
                break
    latencies = []
    for i in range(RESUMES):
        started = time.perf_counter()
        with session.get(f"{app.url}/api/generations/{gid}/events", headers={"Last-Event-ID": ids[i % 5]},
                         stream=True, timeout=60) as response:
            for line in response.iter_lines():
                if line.startswith(b"data: {"):
                    latencies.append((time.perf_counter() - started) * 1000)
                    break
    return latencies


def held_answer(question):
    """What the held streams' upstream answers to `question`."""
    return f"Answer to: {question} (saw 0 earlier messages)" * HELD_REPEAT


async def held_api_stream(url, conversation_id, question, open_streams, delay=0.0, way="two connections"):
    """The /api path for one held stream (after `delay` s): POST, then read the events on a new connection (`way`
    "two connections") or on the POST's own, kept alive ("kept alive"); or ("one request") read them from the POST
    itself, asked with Accept: text/event-stream; returns (first-token s, raw events, error)."""
    host, port, _ = _split(url + "/x")
    await asyncio.sleep(delay)
    started = time.perf_counter()
    open_streams["now"] += 1
    open_streams["peak"] = max(open_streams["peak"], open_streams["now"])
    try:
        if way == "one request":
            request = _request(host, "POST", *_question(conversation_id, question), ASK_FOR_EVENTS)
            return await read_stream(host, port, request, started)
        connection = None
        if way == "kept alive":
            gid, raw, refused, connection = await _ask_kept_alive(host, port, conversation_id, question)
        else:
            gid, raw, refused = await _ask(host, port, conversation_id, question)
        if refused:
            return None, raw, refused
        request = f"GET /api/generations/{gid}/events HTTP/1.0\r\nHost: {host}\r\n\r\n".encode()
        return await read_stream(host, port, request, started, connection=connection)
    except OSError as exc:
        return None, b"", type(exc).__name__
    finally:
        open_streams["now"] -= 1


def held(env, redis_url, n, ramp=0.0):
    """N streams started in the same instant (or evenly over `ramp` s) on each path (each its own gunicorn), after
    the same streams straight to the upstream; one table row per path."""
    rows, direct_p99 = [], None
    for name, extra in (("upstream direct", {}), ("/v1 (baseline)", {}), ("/api, file log", {}),
                        ("/api, Redis log", {"REDIS_URL": redis_url}), ("/api kept alive, file log", {}),
                        ("/api one request, file log", {})):
        with GunicornApp({**env, **extra, "MAX_CONCURRENT_ANSWERS": str(n + 1)}) as app:
            session = requests.Session()
            conversations = [session.post(f"{app.url}/api/conversations", json={}).json()["id"]
                             for _ in range(n if name.startswith("/api") else 10)]
            questions = [f"h{i:05d}" for i in range(n)]

            async def streams(count):
                open_streams = {"now": 0, "peak": 0}
                if name.startswith(("/v1", "upstream")):
                    url = env["OPENAI_BASE_URL"] if name.startswith("upstream") else f"{app.url}/v1"
                    tasks = [one_stream(f"{url}/chat/completions", questions[i], ramp * i / count, open_streams)
                             for i in range(count)]
                else:
                    way = next((way for way in ("kept alive", "one request") if way in name), "two connections")
                    tasks = [held_api_stream(app.url, conversations[i], questions[i], open_streams, ramp * i / count,
                                             way) for i in range(count)]
                return await asyncio.gather(*tasks), open_streams["peak"]

            asyncio.run(streams(10))  # warm-up: imports, pools
            with Sampler(app.process.pid) as sampler:
                cpu_before, machine_before, started = sampler.cpu_seconds(), busy_seconds(), time.perf_counter()
                results, peak = asyncio.run(streams(n))
                elapsed = time.perf_counter() - started
                cpu = sampler.cpu_seconds() - cpu_before
                machine = busy_seconds() - machine_before
        errors = [error for _, _, error in results if error]
        wrong = sum(1 for i, (_, raw, error) in enumerate(results)
                    if not error and parse_answer(raw) != (held_answer(questions[i]), None))
        firsts = [first * 1000 for first, _, _ in results if first is not None]
        p99 = percentile(firsts, 99)
        direct_p99 = p99 if direct_p99 is None else direct_p99
        rows.append([name, peak, len(errors), wrong, f"{median(firsts):.0f}", f"{p99:.0f}", f"{p99 - direct_p99:.0f}",
                     f"{max(firsts):.0f}", f"{cpu:.1f}", f"{(machine - cpu) / elapsed * 100:.0f}%"])
        if errors:
            print(f"{name} errors:", sorted(set(errors))[:5])
    return rows


def print_held(rows, n, ramp=0.0):
    """The held-streams table."""
    when = f"started over {ramp:g} s" if ramp else "started in the same instant"
    print_table(f"{n} streams {when} and held open (~{HELD_REPEAT * 42} characters over ~8 s each), gunicorn "
                f"shipped config; first token in ms (overhead: p99 minus the upstream's own)", rows,
                ["path", "peak open", "errors", "wrong answers", "p50", "p99", "p99 overhead", "max", "worker CPU s",
                 "everything else (% of a core)"])


def start_servers(chunk_chars, delay, repeat):
    """The lean upstream and a redis-server, each in its own process; returns (upstream URL, redis URL, processes)."""
    upstream_url, upstream = lean_upstream.start(chunk_chars, delay, repeat)
    redis_port = free_port()
    redis_server = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port", str(redis_port),
                                     "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                                    stdout=subprocess.DEVNULL)
    wait_until(redis.Redis(port=redis_port).ping, 10, "redis-server", ignore=(redis.ConnectionError,))
    return upstream_url, f"redis://127.0.0.1:{redis_port}", (upstream, redis_server)


def main_held():
    """The held streams alone."""
    n, ramp = int(os.environ.get("BENCH_HELD", "500")), float(os.environ.get("BENCH_RAMP", "0"))
    upstream_url, redis_url, processes = start_servers(HELD_CHUNK_CHARS, HELD_DELAY, HELD_REPEAT)
    try:
        rows = held({"OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": upstream_url, "MODELS": "scripted",
                     "RATE_LIMIT": ""}, redis_url, n, ramp)
    finally:
        for process in processes:
            process.terminate()
    print_held(rows, n, ramp)


def main():
    """Measure the four paths with the same N streams, taking turns for some rounds, then resume latency, then held
    streams; print the tables."""
    n, rounds = int(os.environ.get("BENCH_STREAMS", "100")), int(os.environ.get("BENCH_ROUNDS", "3"))
    upstream_url, redis_url, processes = start_servers(CHUNK_CHARS, DELAY, REPEAT)
    env = {"OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": upstream_url, "MODELS": "scripted", "RATE_LIMIT": "",
           "MAX_CONCURRENT_ANSWERS": str(n + 1)}
    ways = (("/v1 (today)", {}, "v1"), ("generations, file log", {}, "generations"),
            ("generations, Redis log", {"REDIS_URL": redis_url}, "generations"),
            ("one request, file log", {}, "one request"))
    results = {name: {"errors": 0, "wrong": 0, "chunk": [], "answer": []} for name, _, _ in ways}
    latencies = {}
    try:
        for round_ in range(rounds):
            for name, extra, path in ways:
                with GunicornApp({**env, **extra}) as app:
                    session = requests.Session()
                    conversations = [session.post(f"{app.url}/api/conversations", json={}).json()["id"]
                                     for _ in range(n + 1)]
                    run(app, 10, path, conversations, "short")  # warm-up: imports, pools
                    short, long = (run(app, n, path, conversations, length) for length in ("short", "long"))
                    per_chunk = (long[2] - short[2]) / (long[3] - short[3])
                    result = results[name]
                    result["errors"] += len(short[0]) + len(long[0])
                    result["wrong"] += short[1] + long[1]
                    result["chunk"].append(per_chunk * 1e6)
                    result["answer"].append((short[2] - per_chunk * short[3]) / n * 1e3)
                    if round_ == 0 and path == "generations":
                        latencies[name] = resume_latencies(app, conversations[n])
    finally:
        for process in processes:
            process.terminate()
    baseline = results[ways[0][0]]["chunk"]
    print_table(f"{n} short, then {n} long answers started over {RAMP:.0f} s each, {CHUNK_CHARS}-character chunks, "
                f"gunicorn shipped config (worker CPU); the ways take turns, {rounds} rounds", [
                    [name, r["errors"], r["wrong"], f"{median(r['chunk']):.0f}",
                     " / ".join(f"{x:.0f}" for x in r["chunk"]),
                     f"{median([x / b for x, b in zip(r['chunk'], baseline)]):.2f}", f"{median(r['answer']):.1f}"]
                    for name, r in results.items()],
                ["path", "errors", "wrong answers", "µs per chunk (median)", "each round",
                 "ratio to /v1 (same round)", "ms per answer"])
    print_table(f"Resume latency: reconnect with Last-Event-ID a few events back, {RESUMES} times (ms to first text)",
                [[name, f"{median(v):.1f}", f"{percentile(v, 99):.1f}"] for name, v in latencies.items()],
                ["log", "median", "p99"])
    if os.environ.get("BENCH_HELD", "500") != "0":
        main_held()


if __name__ == "__main__":
    main_held() if sys.argv[1:] == ["held"] else main()
