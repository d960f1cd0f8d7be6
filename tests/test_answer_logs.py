"""The log backends on their own (chatcore/answer_logs.py): records cut anywhere, two file backends sharing a
folder as the workers of an instance do (following, Stop, the per-user count, the sweep), and the Redis backend's
connections under a burst, its batches of events and its Stop listener."""

import os
import re
import threading
import time
from types import SimpleNamespace

import redis

from chatcore import answer_logs
from chatcore.answer_logs import (LINGER_SECONDS, STALE_SECONDS, Entry, FileBackend, Position, RedisBackend,
                                  _records)
from testkit.waiting import wait_until


def entries(count):
    """A heartbeat, deltas with multi-byte text and newlines, then the end."""
    made = [Entry("beat", b": beat\n\n", Position(1, 0, 0))]
    for seq in range(2, count):
        made.append(Entry("delta", f"id: {seq}-{seq}-0\ndata: 字\n\n".encode(), Position(seq, seq, 0)))
    return made + [Entry("end", b"data: [DONE]\n\n", Position(count, count - 1, 0))]


def test_records_cut_at_any_byte_come_out_whole_and_in_order(tmp_path):
    backend = FileBackend(tmp_path)
    written = entries(6)
    for entry in written:
        backend.append("g", entry)
    data = (tmp_path / "g.log").read_bytes()
    assert _records(data) == (written, b"")
    for cut in range(len(data) + 1):
        first, rest = _records(data[:cut])
        second, left = _records(rest + data[cut:])
        assert first + second == written and left == b"", cut


def test_two_backends_sharing_a_folder_follow_stop_and_count_together(tmp_path):
    writer, reader = FileBackend(tmp_path), FileBackend(tmp_path)
    stopped = []
    writer.on_cancel, reader.on_cancel = stopped.append, lambda gid: None
    writer.listen()
    # Following: the reader has no log of its own, it reads the writer's file as it grows.
    assert reader.read("g", 0, 0.1) is None
    written = entries(40)
    writer.append("g", written[0])
    got = []

    def follow():
        while not got or got[-1].kind != "end":
            got.extend(reader.read("g", got[-1].position.seq if got else 0, 1.0) or [])

    following = threading.Thread(target=follow)
    following.start()
    for entry in written[1:]:
        writer.append("g", entry)
        time.sleep(0.002)
    following.join(10)
    assert got == written
    # Stop asked through the reader reaches the writer.
    reader.request_cancel("g")
    wait_until(lambda: stopped == ["g"], 2, "the writer to get the Stop")
    # The per-user limit counts both; an end frees a place for either.
    reserved = [writer.reserve("u", "a", 2), reader.reserve("u", "b", 2), writer.reserve("u", "c", 2)]
    assert reserved == [True, True, False]
    assert reader.reserve("v", "d", 2)  # another user counts apart
    reader.end("u", "b")
    assert writer.reserve("u", "c", 2)


def test_the_sweep_deletes_logs_and_stops_nobody_wrote_for_a_while(tmp_path):
    backend = FileBackend(tmp_path)
    for gid in ("old", "new"):
        backend.append(gid, entries(3)[0])
        backend.end("u", gid)
    backend.on_cancel = lambda gid: None
    backend.request_cancel("old")
    long_ago = time.time() - STALE_SECONDS - LINGER_SECONDS - 1
    for path in (tmp_path / "old.log", tmp_path / "stop" / "old"):
        os.utime(path, (long_ago, long_ago))
    backend.sweep()
    assert not (tmp_path / "old.log").exists() and not (tmp_path / "stop" / "old").exists()
    assert (tmp_path / "new.log").exists()


def test_a_count_its_process_no_longer_refreshes_stops_counting(tmp_path):
    first, second = FileBackend(tmp_path), FileBackend(tmp_path)
    assert first.reserve("u", "a", 1) and not second.reserve("u", "b", 1)
    # A count its heartbeat has not refreshed for STALE_SECONDS: the pid is someone else's now, or the process stuck.
    long_ago = time.time() - STALE_SECONDS - 1
    os.utime(first._user_folder("u") / first._count_name(), (long_ago, long_ago))
    assert second.reserve("u", "b", 2)
    first.refresh([SimpleNamespace(user_id="u", gid="a")])  # the heartbeat: fresh again, counted again
    assert not second.reserve("u", "c", 2)


def test_a_burst_of_questions_waits_for_the_redis_backends_few_connections(redis_url, monkeypatch):
    monkeypatch.setattr(answer_logs, "REDIS_CONNECTIONS", 3)
    backend = RedisBackend(f"{redis_url}?client_name=burst")  # its connections, among any other test's
    start, results = threading.Barrier(40), []

    def ask(number):
        start.wait()
        results.append(backend.reserve(f"user{number}", f"g{number}", 1))

    threads = [threading.Thread(target=ask, args=(number,)) for number in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == [True] * 40  # each waited for a connection; none was refused
    clients = redis.Redis.from_url(redis_url).client_list()
    assert 1 <= len([c for c in clients if c["name"] == "burst"]) <= 3


def test_stop_requests_reach_the_redis_listener_after_redis_restarts_and_stop_ends_it(redis_server):
    listening, asking = RedisBackend(redis_server.url), RedisBackend(redis_server.url)
    heard = []
    listening.on_cancel = heard.append
    listening.listen()
    asking.request_cancel("before")
    wait_until(lambda: heard == ["before"], 5, "the Stop request")
    redis_server.stop()
    redis_server.start()  # same port, empty: the listener subscribes again by itself

    def ask_again():
        """Send the request until it is heard (the listener may not have subscribed again yet)."""
        asking.request_cancel("after")
        return "after" in heard

    wait_until(ask_again, 15, "the Stop request after the restart", ignore=(redis.ConnectionError,))
    listener = next(thread for thread in threading.enumerate() if getattr(thread, "_target", None) ==
                    listening._listen)
    listening.stop()
    listener.join(5)
    assert not listener.is_alive()


def test_redis_log_events_go_in_batches_a_refused_one_spares_the_rest_and_a_restart_reloads_the_script(
        redis_server, caplog):
    writer, reader = RedisBackend(redis_server.url), RedisBackend(redis_server.url)
    written = entries(6)

    def start(gid):
        """As a generation starts its log: the first event goes with the question's reserve()."""
        writer.append(gid, written[0])
        assert writer.reserve("u", gid, 10)

    start("g")
    start("refusing")
    # Redis refuses every later event of "refusing" (its stream has a later id by now); those of "g" still go in.
    redis.Redis.from_url(redis_server.url).xadd(writer._key("refusing"), {"r": b"x"}, id="99-0")
    for entry in written[1:]:
        writer.append("g", entry)
        writer.append("refusing", entry)
    wait_until(lambda: reader.entries("g") == written, 5, "the log in Redis")
    wait_until(lambda: "Redis refused" in caplog.text, 5, "the warning")
    refused = re.findall(r"Redis refused (\d+) of (\d+) log events", caplog.text)  # the log line, as redacted
    assert sum(int(count) for count, _ in refused) == 5 and sum(int(size) for _, size in refused) == 10
    redis_server.stop()
    redis_server.start()  # empty, its script cache too: the batches' script is loaded again
    start("after")
    for entry in written[1:]:
        writer.append("after", entry)
    wait_until(lambda: reader.entries("after") == written, 5, "the log in Redis after the restart")
