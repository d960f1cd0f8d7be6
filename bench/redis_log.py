"""The Redis log's own CPU per event: a process sending its answers' events (`RedisBackend._send_pending`: one script
call per batch, as shipped, against the previous sender's pipeline of XADDs) and a process following other processes'
logs (`RedisBackend._fetch`: one XREAD for all of them), with redis-py's C reply parser and command packer (hiredis,
as shipped) and with its pure-Python ones. One process, a real redis-server; the ways take turns.
"""

import time

import redis
from redis._parsers import _RESP2Parser
from redis.connection import Encoder, PythonRespSerializer

from bench.common import median, print_table
from chatcore.answer_logs import XADD_BATCH, Entry, Position, RedisBackend, _Copy
from chatcore.generations import Chunks
from testkit.redis_server import RedisServer

LOGS = 500     # answers running at once (the held benchmark's workers each run or follow about this many)
EVENTS = 40    # events per answer per turn
TURNS = 5


def python_client(url):
    """A redis-py client with its pure-Python parser and packer, as without hiredis."""
    return redis.Redis.from_url(url, parser_class=_RESP2Parser,
                                command_packer=PythonRespSerializer(6000, Encoder("utf-8", "strict", False).encode))


def send_in_pipeline(backend):
    """The previous sender, as a baseline: the waiting events as one pipeline of XADDs."""
    batch, backend._pending = backend._pending, []
    pipe = backend.redis.pipeline(transaction=False)
    for gid, entry in batch:
        backend._xadd(pipe, gid, entry)
    pipe.execute()


def send_in_batch(backend):
    """The shipped sender: as the process's sender does, one batch, then it finds nothing more."""
    backend._sending = True
    backend._send_pending()


def one_turn(backend, send, turn):
    """Send EVENTS events to each of LOGS logs and follow them all; returns CPU µs per event (sent, followed)."""
    frame = Chunks("g", "scripted").text("content", "word word ")
    gids = [f"bench-{turn}-{i}" for i in range(LOGS)]
    copies = {gid: _Copy() for gid in gids}
    sent = followed = 0.0
    for seq in range(1, EVENTS + 1):
        position = Position(seq, seq * 10, 0)
        entry = Entry("delta", b"id: " + position.event_id().encode() + b"\n" + frame, position)
        backend._pending = [(gid, entry) for gid in gids]
        started = time.process_time()
        send(backend)
        sent += time.process_time() - started
        started = time.process_time()
        for gid, entries in backend._fetch(copies):
            copies[gid].fetched = entries[-1].position.seq
        followed += time.process_time() - started
    backend.redis.delete(*[backend._key(gid) for gid in gids])
    count = LOGS * EVENTS
    return sent / count * 1e6, followed / count * 1e6


def main():
    """Let the ways take turns for TURNS turns; print CPU µs per event sent and followed, and the ratios to the
    baselines (sent: the previous pipeline; followed: pure Python)."""
    with RedisServer() as server:
        shipped = RedisBackend(server.url)
        plain = RedisBackend(server.url)
        plain.redis = python_client(server.url)
        plain._xadd_batch = plain.redis.register_script(XADD_BATCH)
        ways = {"hiredis, a script call per batch (shipped)": (shipped, send_in_batch),
                "hiredis, a pipeline of XADDs (before)": (shipped, send_in_pipeline),
                "pure Python, a script call per batch": (plain, send_in_batch)}
        results = {name: ([], []) for name in ways}
        for turn in range(TURNS):
            for name, (backend, send) in ways.items():
                cost = one_turn(backend, send, turn)
                results[name][0].append(cost[0])
                results[name][1].append(cost[1])
    base_sent = median(results["hiredis, a pipeline of XADDs (before)"][0])
    base_followed = median(results["pure Python, a script call per batch"][1])
    rows = [[name, f"{median(sent):.1f}", f"{median(sent) / base_sent:.2f}", f"{median(followed):.1f}",
             f"{median(followed) / base_followed:.2f}"] for name, (sent, followed) in results.items()]
    parser = "hiredis" if redis.utils.HIREDIS_AVAILABLE else "NOT installed: the hiredis rows are pure Python"
    print_table(f"Redis log CPU per event ({LOGS} logs, {EVENTS} events each, {TURNS} turns, median; {parser})", rows,
                ["way", "sent µs", "ratio to the pipeline", "followed µs", "ratio to pure Python"])


if __name__ == "__main__":
    main()
