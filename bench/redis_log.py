"""The Redis log's own CPU per event, with redis-py's C reply parser and command packer (hiredis, as shipped) against
its pure-Python ones, in the same run: a process sending its answers' events (`RedisBackend._send_pending`: one
pipeline of XADDs) and a process following other processes' logs (`RedisBackend._fetch`: one XREAD for all of them).
One process, a real redis-server; the two clients take turns.
"""

import time

import redis
from redis._parsers import _RESP2Parser
from redis.connection import Encoder, PythonRespSerializer

from bench.common import median, print_table
from chatcore.answer_logs import Entry, Position, RedisBackend, _Copy
from chatcore.generations import Chunks
from testkit.redis_server import RedisServer

LOGS = 500     # answers running at once (the held benchmark's workers each run or follow about this many)
EVENTS = 40    # events per answer per turn
TURNS = 5


def python_client(url):
    """A redis-py client with its pure-Python parser and packer, as without hiredis."""
    return redis.Redis.from_url(url, parser_class=_RESP2Parser,
                                command_packer=PythonRespSerializer(6000, Encoder("utf-8", "strict", False).encode))


def one_turn(backend, turn):
    """Send EVENTS events to each of LOGS logs and follow them all; returns CPU µs per event (sent, followed)."""
    frame = Chunks("g", "scripted").text("content", "word word ")
    gids = [f"bench-{turn}-{i}" for i in range(LOGS)]
    copies = {gid: _Copy() for gid in gids}
    sent = followed = 0.0
    for seq in range(1, EVENTS + 1):
        position = Position(seq, seq * 10, 0)
        entry = Entry("delta", b"id: " + position.event_id().encode() + b"\n" + frame, position)
        backend._pending, backend._sending = [(gid, entry) for gid in gids], True
        started = time.process_time()
        backend._send_pending()  # as the process's sender does: one pipeline, then it finds nothing more
        sent += time.process_time() - started
        started = time.process_time()
        for gid, entries in backend._fetch(copies):
            copies[gid].fetched = entries[-1].position.seq
        followed += time.process_time() - started
    backend.redis.delete(*[backend._key(gid) for gid in gids])
    count = LOGS * EVENTS
    return sent / count * 1e6, followed / count * 1e6


def main():
    """Alternate the two clients for TURNS turns; print CPU µs per event sent and followed, and the ratios."""
    results = {"hiredis (shipped)": ([], []), "pure Python": ([], [])}
    with RedisServer() as server:
        shipped = RedisBackend(server.url)
        plain = RedisBackend(server.url)
        plain.redis = python_client(server.url)
        for turn in range(TURNS):
            for (name, (sent, followed)), backend in zip(results.items(), (shipped, plain)):
                cost = one_turn(backend, turn)
                sent.append(cost[0])
                followed.append(cost[1])
    base_sent, base_followed = (median(values) for values in results["pure Python"])
    rows = [[name, f"{median(sent):.1f}", f"{median(sent) / base_sent:.2f}", f"{median(followed):.1f}",
             f"{median(followed) / base_followed:.2f}"] for name, (sent, followed) in results.items()]
    parser = "hiredis" if redis.utils.HIREDIS_AVAILABLE else "NOT installed: both rows are pure Python"
    print_table(f"Redis log CPU per event ({LOGS} logs, {EVENTS} events each, {TURNS} turns, median; {parser})", rows,
                ["redis-py", "sent µs", "ratio", "followed µs", "ratio"])


if __name__ == "__main__":
    main()
