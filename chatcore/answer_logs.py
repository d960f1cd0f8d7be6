"""Where a running answer's events go, so every viewer can read them: the log backends of chatcore/generations.py.

- `FileBackend` (no REDIS_URL): each log is also a file in DATA_DIR/live, so every worker of the instance (every
  process using that data directory) follows any answer live and can stop it; the per-user running counts are
  files there too.
- `RedisBackend` (REDIS_URL): each log is also a Redis Stream, and Stop travels by pub/sub: any instance serves
  any viewer.

Either way the process running an answer keeps its log in memory as well (`MemoryLogs`): its own viewers read it
without a file or a round trip, and the logs of other processes are followed by one reader per process (`_Followed`)
into copies here, not read by each viewer on its own.
"""

import contextlib
import fcntl
import hashlib
import logging
import os
import threading
import time
from pathlib import Path
from typing import NamedTuple

from .errors import bad_request
from .os_thread import spawn

log = logging.getLogger("chat")

STALE_SECONDS = 10.0     # a log silent this long belongs to a process that died: the answer is interrupted
LINGER_SECONDS = 30.0    # a finished log stays this long for viewers mid-read; later ones replay from the store
RUNNING_TTL_SECONDS = 3600  # a Redis log whose writer stopped refreshing it disappears after this
MAX_EVENTS = 100_000     # per log: a safety bound; max tokens ends an answer long before it
READ_BATCH = 1000        # events handed to a viewer per read
FOLLOW_SECONDS = 0.02    # how often one process reads every log its viewers follow from another process
# ...and, for a log whose text has started, how often it is read after that: the first text is what a person waits
# for; later a page draws at most every MERGE_SECONDS anyway, and each read costs (a system call per log file, or
# the log's part of the Redis command).
FOLLOW_TEXT_SECONDS = 0.06
FILE_READ_BYTES = 1 << 16  # per read of a followed log file
SEND_SECONDS = 0.01  # how long a process gathers its log events before it sends them to Redis together
STOP_POLL_SECONDS = 0.2  # how often a process looks for Stop requests made in another (file backend)
REDIS_CONNECTIONS = 64  # per process
REDIS_WAIT_SECONDS = 5.0  # for a free connection; then it is as if Redis were down (a question gets a 503)
# A batch of log events in one command (the streams' keys, then MAXLEN and each event's id and record): the
# client packs and parses one command instead of an XADD each, far less CPU per event. pcall: an event Redis
# refuses is counted, and the others are still added.
XADD_BATCH = """
local refused = 0
for i, key in ipairs(KEYS) do
  local added = redis.pcall('XADD', key, 'MAXLEN', '~', ARGV[1], ARGV[2 * i], 'r', ARGV[2 * i + 1])
  if type(added) == 'table' and added.err then refused = refused + 1 end
end
return refused
"""


class Position(NamedTuple):
    """Where a viewer is: the last log event it has, and how many answer and reasoning characters."""

    seq: int = 0
    content: int = 0
    reasoning: int = 0

    def event_id(self) -> str:
        """The SSE id of the event that brings a viewer here."""
        return f"{self.seq}-{self.content}-{self.reasoning}"

    @classmethod
    def parse(cls, text):
        """A Last-Event-ID (or ?after=) back into a Position; none given is the start; junk is a 400."""
        if not text:
            return cls()
        try:
            seq, content, reasoning = (int(part) for part in text.split("-"))
        except ValueError:
            raise bad_request("invalid_event_id", "Last-Event-ID is not an event id of this stream.") from None
        if min(seq, content, reasoning) < 0:
            raise bad_request("invalid_event_id", "Last-Event-ID is not an event id of this stream.")
        return cls(seq, content, reasoning)


class Entry(NamedTuple):
    """One log event: a delta, a heartbeat, or the end; `frame` is the SSE bytes to write (with the id line)."""

    kind: str  # "delta" | "beat" | "end"
    frame: bytes
    position: Position


class MemoryLogs:
    """The logs of the answers this process runs (and, in `_Copy`, of those it follows), in memory."""

    def __init__(self):
        self._logs = {}         # gid -> _MemoryLog
        self._expiry = {}       # gid -> when its finished log is dropped (monotonic)

    def append(self, gid, entry):
        """Add an event and wake the viewers waiting for it."""
        log_ = self._logs.get(gid)
        if log_ is None:
            log_ = self._logs.setdefault(gid, _MemoryLog())
        log_.append(entry)

    def read(self, gid, after, timeout):
        """Events after seq `after` (waiting up to `timeout` for one); None when there is no such log here."""
        log_ = self._logs.get(gid)
        return None if log_ is None else log_.read(after, timeout)

    def entries(self, gid):
        """Every event still held."""
        log_ = self._logs.get(gid)
        return [] if log_ is None else log_.read(0, 0, limit=None)

    def finish(self, gid):
        """The answer is saved: drop the log once viewers mid-read had time to read its end."""
        self._expiry[gid] = time.monotonic() + LINGER_SECONDS

    def sweep(self):
        """Drop the finished logs whose time is up."""
        now = time.monotonic()
        for gid, deadline in list(self._expiry.items()):
            if deadline <= now:
                self._logs.pop(gid, None)
                self._expiry.pop(gid, None)


class _MemoryLog:
    """One generation's events in a list; viewers read by position and wait for the next append."""

    def __init__(self):
        self.entries = []
        self.first = 1  # seq of entries[0] (older ones trimmed)
        self.lock = threading.Lock()
        # Set, and replaced by a fresh one, by each append: it wakes every viewer waiting at once (cheaper under
        # gevent than a Condition, whose notify wakes each waiter's own lock).
        self.appended = threading.Event()

    def append(self, entry):
        """Add an event (trimming the oldest beyond MAX_EVENTS) and wake every waiting viewer."""
        with self.lock:
            self.entries.append(entry)
            if len(self.entries) > MAX_EVENTS:
                drop = len(self.entries) - MAX_EVENTS
                del self.entries[:drop]
                self.first += drop
            appended, self.appended = self.appended, threading.Event()
        appended.set()

    def read(self, after, timeout, limit=READ_BATCH):
        """Events after seq `after`, waiting up to `timeout` for one."""
        appended = self.appended  # taken before looking: an append from now on sets it
        if timeout and self.first + len(self.entries) - 1 <= after:
            appended.wait(timeout)
        with self.lock:
            start = max(0, after - self.first + 1)
            return self.entries[start:None if limit is None else start + limit]


class _Copy:
    """A log of another process that viewers here follow: its events so far (from the first), as a memory log."""

    def __init__(self):
        self.log = _MemoryLog()
        self.fetched = 0  # seq of the last event fetched
        self.read_at = time.monotonic()  # when a viewer last read it
        self.ended_at = None  # when its end was fetched
        self.next_read_at = 0.0  # when the reader fetches it next (monotonic)
        self.text_started = False  # a delta was fetched: read every FOLLOW_TEXT_SECONDS from now on
        # The file backend's: the open log file, and the part of a record read so far.
        self.file = None
        self.rest = b""


class _Followed:
    """The shared part of the backends: this process's own logs in memory, and one reader that fetches the logs
    of other processes that viewers here follow, every FOLLOW_SECONDS (FOLLOW_TEXT_SECONDS once the text started),
    into copies."""

    errors = ()  # what a backend raises when its server cannot be reached (the caller answers 503)

    def __init__(self):
        self.local = MemoryLogs()
        self.on_cancel = None  # set by Generations: called with a gid to stop
        self.stopping = threading.Event()  # set by stop(): this process's loops end
        self._copies = {}  # gid -> _Copy
        self._reader_pid = None
        self._reader_error = None  # the last round's failure, raised to viewers until a round works again
        self._wanted = threading.Event()  # set when a copy is added: wakes a reader with nothing to follow
        self._lock = threading.Lock()

    def read(self, gid, after, timeout):
        """Events after seq `after` (waiting up to `timeout` for one): from here when this process runs it, else
        from the copy the reader keeps; None when there is no such log (expired, or never written)."""
        here = self.local.read(gid, after, timeout)
        if here is not None:
            return here
        copy = self._copies.get(gid)
        if copy is None:
            if not self._exists(gid):
                return None
            copy = self._copies.setdefault(gid, _Copy())
            self._start_reader()
            self._wanted.set()
        copy.read_at = time.monotonic()
        entries = copy.log.read(after, timeout)
        if self._reader_error is not None:
            raise self._reader_error
        if entries or copy.log.entries:
            return entries
        return [] if self._exists(gid) else None

    def stop(self):
        """End this process's loops: the app is closed while the process goes on (a test's app, in the tests'
        process), and nothing of it should keep waking up."""
        self.stopping.set()
        self._wanted.set()

    def _start_reader(self):
        """Start this process's reader once (a forked worker starts its own)."""
        with self._lock:
            if self._reader_pid == os.getpid():
                return
            self._reader_pid = os.getpid()
        spawn(self._follow)

    def _follow(self):
        """Every FOLLOW_SECONDS, fetch every log followed here from the last event fetched; a copy no viewer read
        for a while, or whose end was fetched long enough ago, is dropped."""
        while not self.stopping.is_set():
            started = time.monotonic()
            copies = {gid: copy for gid, copy in list(self._copies.items())
                      if started - copy.read_at < STALE_SECONDS and
                      not (copy.ended_at and started - copy.ended_at > LINGER_SECONDS)}
            for gid in set(self._copies) - set(copies):
                dropped = self._copies.pop(gid, None)
                if dropped is not None and dropped.file is not None:
                    dropped.file.close()
            if not copies:  # nothing to follow: sleep until a viewer asks for a log
                self._wanted.clear()
                if not self._copies:
                    self._wanted.wait()
                continue
            due = {gid: copy for gid, copy in copies.items() if copy.next_read_at <= started}
            try:
                fetched = self._fetch(due) if due else []
                self._reader_error = None
            except Exception as exc:  # Redis down: viewers get the error; try again next round
                self._reader_error = exc
                fetched = []
            for gid, entries in fetched:
                copy = copies[gid]
                for entry in entries:
                    if not copy.log.entries:  # the oldest may be trimmed: the copy starts where the log does
                        copy.log.first = entry.position.seq
                    copy.fetched = entry.position.seq
                    copy.ended_at = copy.ended_at or (entry.kind == "end" and started)
                    copy.text_started = copy.text_started or entry.kind == "delta"
                    copy.log.append(entry)
            for copy in due.values():
                if copy.text_started:
                    copy.next_read_at = started + FOLLOW_TEXT_SECONDS
            self.stopping.wait(max(0.0, FOLLOW_SECONDS - (time.monotonic() - started)))

    def sweep(self):
        """Drop this process's finished logs whose time is up."""
        self.local.sweep()


class FileBackend(_Followed):
    """Logs also written as files in `folder` (DATA_DIR/live), Stop requests and running counts as files there:
    every process using the same data directory (the gunicorn workers of an instance) follows and stops any answer
    that one of them runs, and the per-user limit holds across them."""

    shared = False  # another instance (another host) does not see these files: it follows the store instead

    def __init__(self, folder):
        super().__init__()
        self.folder = Path(folder)
        self.stops = self.folder / "stop"
        self.running = self.folder / "running"
        for path in (self.folder, self.stops, self.running):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._files = {}  # gid -> the open log file of an answer this process runs
        self._mine = {}  # user id -> the gids of their answers running in this process
        self._count_files = {}  # (user id, pid) -> (lock fd, this process's count fd)
        self._token = os.urandom(4).hex()

    def _path(self, gid):
        """The log's file."""
        return self.folder / f"{gid}.log"

    def append(self, gid, entry):
        """Add the event here and to the log's file (one write of one record: header line, then the frame)."""
        self.local.append(gid, entry)
        fd = self._files.get(gid)
        if fd is None:
            fd = self._files[gid] = os.open(self._path(gid), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.write(fd, _record(entry))

    def _exists(self, gid):
        """True when the log's file is there."""
        return self._path(gid).exists()

    def _fetch(self, copies):
        """What each followed log's file gained since the last round, as entries."""
        fetched = []
        for gid, copy in copies.items():
            if copy.file is None:
                try:
                    copy.file = open(self._path(gid), "rb", buffering=0)
                except FileNotFoundError:  # swept: its viewers continue from the store
                    continue
            data = copy.rest
            while True:  # one read a round, unless a burst filled it
                more = copy.file.read(FILE_READ_BYTES)
                data += more
                if len(more) < FILE_READ_BYTES:
                    break
            entries, copy.rest = _records(data)
            if entries:
                fetched.append((gid, entries))
        return fetched

    def entries(self, gid):
        """Every event still held."""
        entries = self.local.entries(gid)
        if entries:
            return entries
        try:
            return _records(self._path(gid).read_bytes())[0]
        except FileNotFoundError:
            return []

    def end(self, user_id, gid):
        """The answer is saved (or was never stored): it no longer counts, and its file is closed (the sweep deletes
        it once viewers mid-read had time to read it)."""
        with self._counting(user_id) as (_, mine):
            mine.discard(gid)
        self.local.finish(gid)
        fd = self._files.pop(gid, None)
        if fd is not None:
            os.close(fd)

    def sweep(self):
        """Drop finished logs here, and delete the log and Stop files nobody wrote for a while (an answer's log gets
        an event at least every HEARTBEAT_SECONDS while it runs; a dead process's stop there)."""
        super().sweep()
        old = time.time() - STALE_SECONDS - LINGER_SECONDS
        for folder in (self.folder, self.stops):
            for item in os.scandir(folder):
                try:
                    if item.is_file() and item.stat().st_mtime < old:
                        os.unlink(item.path)
                except FileNotFoundError:  # another worker swept it first
                    pass

    def request_cancel(self, gid):
        """Leave a Stop file for the process that runs it (the caller has stopped it if it runs here)."""
        (self.stops / gid).touch()

    def cancel_requests(self, gids):
        """Stop files are delivered by the listener."""
        return ()

    def listen(self):
        """Deliver the Stop files as they appear, for as long as the process lives."""
        spawn(self._listen)

    def _listen(self):
        """Every STOP_POLL_SECONDS, pass each new Stop file's gid on (the process that runs it stops it)."""
        seen = set()
        while not self.stopping.is_set():
            try:
                names = set(os.listdir(self.stops))
                for gid in names - seen:
                    self.on_cancel(gid)
                seen = names
            except Exception:  # the folder was removed under us: nothing to deliver until it is back
                log.warning("could not read Stop requests", exc_info=True)
            self.stopping.wait(STOP_POLL_SECONDS)

    def _user_folder(self, user_id):
        """Where the user's running answers are counted (named by a hash: user ids are not file names)."""
        return self.running / hashlib.sha256(str(user_id).encode()).hexdigest()[:32]

    def reserve(self, user_id, gid, limit) -> bool:
        """Count a generation against its user's limit, across every process: each keeps its own count in a file
        named by its pid (those of processes that died, or not refreshed lately, do not count; `.lock` has no pid),
        read and written under a lock they share; False, nothing counted, when the user is at the limit."""
        with self._counting(user_id) as (folder, mine):
            others, fresh_since = 0, time.time() - STALE_SECONDS
            for name in os.listdir(folder):
                pid = name.partition(".")[0]
                if not pid.isdigit() or name == self._count_name():
                    continue
                if not _alive(int(pid)):
                    (folder / name).unlink(missing_ok=True)
                # A count its process's heartbeat no longer refreshes is not counted: that pid is someone else's now
                # (the worker was killed), or the process is stuck.
                elif os.stat(folder / name).st_mtime >= fresh_since:
                    others += int((folder / name).read_bytes() or 0)
            if others + len(mine) >= limit:
                return False
            mine.add(gid)
        return True

    def _count_name(self):
        """This process's count file: its pid, then this backend's token (apps in one process count apart)."""
        return f"{os.getpid()}.{self._token}"

    @contextlib.contextmanager
    def _counting(self, user_id):
        """The user's folder and the set of their answers running here, under the lock every process takes for
        the user's counts (held for a listing: microseconds, so blocking the loop is fine); this process's count
        file is written from the set when the block ends."""
        folder = self._user_folder(user_id)
        mine = self._mine.setdefault(user_id, set())
        with self._lock:
            files = self._count_files.get((user_id, os.getpid()))
            if files is None:  # kept open: these run for every question and every answer's end
                folder.mkdir(mode=0o700, exist_ok=True)
                files = self._count_files[user_id, os.getpid()] = tuple(
                    os.open(folder / name, os.O_RDWR | os.O_CREAT, 0o600) for name in (".lock", self._count_name()))
            lock, count = files
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                before = len(mine)
                yield folder, mine
                if len(mine) != before:  # overwritten in place: truncating costs a journal commit on ext4
                    os.pwrite(count, b"%010d" % len(mine), 0)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def refresh(self, runs):
        """Keep this process's count files of the users with answers running here fresh (the log files get their
        heartbeat events)."""
        for user_id in {run.user_id for run in runs}:
            files = self._count_files.get((user_id, os.getpid()))
            if files is not None:
                os.utime(files[1])


def _record(entry) -> bytes:
    """An entry as a record of a log file or a Redis Stream: a header line (kind, event id, frame length), then the
    frame."""
    return b"%s %s %d\n" % (entry.kind.encode(), entry.position.event_id().encode(), len(entry.frame)) + entry.frame


def _records(data):
    """The complete records at the start of a log file's bytes (an entry each), and the incomplete rest."""
    entries = []
    while True:
        head, newline, rest = data.partition(b"\n")
        if not newline:
            return entries, data
        kind, position, size = head.split(b" ")
        size = int(size)
        if len(rest) < size:
            return entries, data
        entries.append(Entry(kind.decode(), rest[:size], _position(position)))
        data = rest[size:]


def _position(event_id: bytes) -> Position:
    """A stored event's id (written by this module, so well formed) back into its Position."""
    seq, content, reasoning = (int(part) for part in event_id.split(b"-"))
    return Position(seq, content, reasoning)


def _stream_id(seq) -> str:
    """The Redis Stream id of a log's event `seq`: a viewer's position is a stream id too."""
    return f"{seq}-0"


def _alive(pid) -> bool:
    """True when a process with this id runs (on this host)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, run by another user
        return True
    return True


class RedisBackend(_Followed):
    """Logs also as Redis Streams, cancel over pub/sub (and a key), running counts in a sorted set per user: any
    instance can run a generation and any instance can serve its viewers or stop it."""

    shared = True
    CANCEL_CHANNEL = "chat:cancel"

    def __init__(self, url):
        import redis  # only when REDIS_URL is set

        super().__init__()
        # A bounded pool, waited for: a burst of questions would otherwise open a connection for each (each costs
        # more CPU than the round trips it carries) and keep them all open afterwards.
        self.redis = redis.Redis(connection_pool=redis.BlockingConnectionPool.from_url(
            url, max_connections=REDIS_CONNECTIONS, timeout=REDIS_WAIT_SECONDS))
        self.errors = (redis.RedisError,)  # Redis unreachable or refusing: the caller answers 503
        self._xadd_batch = self.redis.register_script(XADD_BATCH)  # EVALSHA, loaded again after a restart
        self._pending = []  # (gid, entry) waiting to be sent in the next batch
        self._sending = False
        self._first = {}  # gid -> its log's first event, sent with the question's reserve()

    @staticmethod
    def _key(gid):
        """The stream's key."""
        return f"chat:generation:{gid}"

    @staticmethod
    def _running_key(user_id):
        """The key of the user's running answers (a sorted set: gid -> when its heartbeat last refreshed it)."""
        return f"chat:running:{user_id}"

    def _xadd(self, target, gid, entry):
        """XADD the event (with its seq as its stream id)."""
        target.xadd(self._key(gid), {"r": _record(entry)}, id=_stream_id(entry.position.seq), maxlen=MAX_EVENTS,
                    approximate=True)

    def append(self, gid, entry):
        """Add the event here and to Redis: the first with the question's reserve() (the stream exists before
        anyone is told of it, and a Redis that refuses it refuses the question), later ones in one batch with
        every other event of this process that comes before the last is sent."""
        self.local.append(gid, entry)
        if entry.position.seq == 1:
            self._first[gid] = entry
            return
        with self._lock:
            self._pending.append((gid, entry))
            if self._sending:
                return
            self._sending = True
        spawn(self._send_pending)

    def _send_pending(self):
        """Send the waiting events, one batch at a time (so each stream's ids reach Redis in order), each with the
        events of SEND_SECONDS: a round trip per loop turn cost more than the events it carried."""
        pause = threading.Event()
        while True:
            pause.wait(SEND_SECONDS)
            with self._lock:
                batch, self._pending = self._pending, []
                if not batch:
                    self._sending = False
                    return
            args = [MAX_EVENTS]
            for _, entry in batch:
                args += (_stream_id(entry.position.seq), _record(entry))
            try:
                refused = self._xadd_batch(keys=[self._key(gid) for gid, _ in batch], args=args)
            except Exception:  # Redis down for a moment: viewers elsewhere see the gap and continue from the store
                log.warning("could not send %d log events to Redis", len(batch), exc_info=True)
                continue
            if refused:
                log.warning("Redis refused %d of %d log events", refused, len(batch))

    @staticmethod
    def _entry(fields):
        """A stream entry's fields back into an Entry."""
        return _records(fields[b"r"])[0][0]

    def _exists(self, gid):
        """True when the stream is there."""
        return bool(self.redis.exists(self._key(gid)))

    def _fetch(self, copies):
        """One XREAD for every stream followed here, each from the last event fetched."""
        reply = self.redis.xread({self._key(gid): _stream_id(copy.fetched) for gid, copy in copies.items()},
                                 count=READ_BATCH)
        return [(key.decode().rpartition(":")[2], [self._entry(fields) for _, fields in items])
                for key, items in reply or []]

    def entries(self, gid):
        """Every event still held."""
        return self.local.entries(gid) or [self._entry(fields) for _, fields in self.redis.xrange(self._key(gid))]

    def end(self, user_id, gid):
        """The answer is saved (or was never stored): it no longer counts, and the stream expires once viewers
        mid-read had time to read its end (so does the copy here); one round trip for both."""
        self.local.finish(gid)
        self._first.pop(gid, None)
        pipe = self.redis.pipeline(transaction=False)
        pipe.zrem(self._running_key(user_id), gid)
        pipe.expire(self._key(gid), int(LINGER_SECONDS))
        pipe.execute()

    def request_cancel(self, gid):
        """Tell every instance: a key (read by the running instance's heartbeat, should it miss the message)
        and a pub/sub message (delivered at once)."""
        pipe = self.redis.pipeline()
        pipe.set(f"chat:cancel:{gid}", 1, ex=RUNNING_TTL_SECONDS)
        pipe.publish(self.CANCEL_CHANNEL, gid)
        pipe.execute()

    def cancel_requests(self, gids):
        """The gids among these whose cancel key is set."""
        if not gids:
            return ()
        return [gid for gid, flag in zip(gids, self.redis.mget([f"chat:cancel:{gid}" for gid in gids])) if flag]

    def listen(self):
        """Subscribe now (messages published from here on are kept for us), then hand them over in a thread."""
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(self.CANCEL_CHANNEL)
        threading.Thread(target=self._listen, args=(pubsub,), name="generation-cancel", daemon=True).start()

    def _listen(self, pubsub):
        """Deliver cancel messages until stop() (reconnecting if Redis restarts), then close the subscription: the
        pubsub is this thread's alone (redis-py's is not thread-safe), so it waits a second at a time, not forever."""
        lost = False
        try:
            while not self.stopping.is_set():
                try:
                    message = pubsub.get_message(timeout=1.0)
                    lost = False
                    if message and message["type"] == "message":
                        self.on_cancel(message["data"].decode())
                except Exception:  # Redis went away: the heartbeat's key check covers the gap
                    if not lost and not self.stopping.is_set():
                        log.warning("cancel listener lost Redis; reconnecting")
                    lost = True
                    self.stopping.wait(1.0)
        finally:
            pubsub.close()

    def reserve(self, user_id, gid, limit) -> bool:
        """Add the gid to the user's running set (entries not refreshed by a heartbeat lately do not count:
        their instance died), and send its log's first event; False, and no count kept, when that makes more than
        `limit`."""
        key, now = self._running_key(user_id), time.time()
        pipe = self.redis.pipeline()
        pipe.zremrangebyscore(key, "-inf", now - STALE_SECONDS)
        pipe.zadd(key, {gid: now})
        pipe.zcard(key)
        pipe.expire(key, RUNNING_TTL_SECONDS)
        first = self._first.pop(gid, None)
        if first is not None:  # one round trip for both: each one waits a turn of a busy event loop
            self._xadd(pipe, gid, first)
        if pipe.execute()[2] > limit:
            self.redis.zrem(key, gid)
            return False
        return True

    def refresh(self, runs):
        """Heartbeat for the running counts and the logs' time to live."""
        if not runs:
            return
        pipe, now = self.redis.pipeline(), time.time()
        for run in runs:
            pipe.zadd(self._running_key(run.user_id), {run.gid: now})
            pipe.expire(self._key(run.gid), RUNNING_TTL_SECONDS)
        pipe.execute()
