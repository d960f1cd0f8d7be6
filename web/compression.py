"""Brotli at its best level for Dash's component bundles, compressed once in a child process and kept on disk.

Dash's `compress=True` uses gzip for everything. A bundle never changes for a given URL, so it is worth
compressing once at Brotli's maximum level (a third smaller than gzip for the big bundles) and serving it from
memory. Quality 11 takes seconds per bundle and tens of MB of working memory, so a short-lived child process
at the lowest CPU priority (`nice`) does it (`python -m web.compression <file>`): the memory goes back to the system
when the child exits instead of staying in the worker, and the result lands in `DATA_DIR/bundles`, named by a
hash of the bundle, for every worker and the next start. Until a bundle is there, its requests get
Flask-Compress's gzip as before; no request ever waits for it.
"""

import fcntl
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import brotli

PREFIX = "/_dash-component-suites/"
MIN_BYTES = 1024
ROOT = Path(__file__).resolve().parent.parent  # where `-m web.compression` is found, whatever the cwd
log = logging.getLogger("chat")
# The child runs at the lowest CPU priority from its first instruction: a page load starts several at once.
NICE = ["nice", "-n", "19"] if shutil.which("nice") else []


class BundleCompressor:
    """Brotli-compressed bundles for one app: read from the disk cache, made by child processes when missing."""

    def __init__(self, cache_dir):
        self._dir = Path(cache_dir)
        self._ready = {}
        self._keys = {}
        self._started = set()
        self._children = []
        self._lock = threading.Lock()

    def get(self, path, body):
        """The Brotli bytes for `path` if ready; otherwise have a child compress `body` and return None."""
        with self._lock:
            if path in self._ready:
                return self._ready[path]
            key = self._keys.get(path)
        if key is None:  # hashed once per bundle, not on every request until it is ready
            key = self._keys.setdefault(path, hashlib.sha256(body).hexdigest()[:32])
        compressed = self._dir / f"{key}.br"
        if compressed.exists():
            data = compressed.read_bytes()
            with self._lock:
                self._ready[path] = data
            return data
        with self._lock:
            if path in self._started:
                return None
            self._started.add(path)
        try:
            self._start_child(key, body)
        except OSError as exc:  # DATA_DIR not writable, no processes left: gzip it stays, the page is served
            log.warning("bundle compression not started: %s", exc)
        return None

    def _start_child(self, key, body):
        """Write `body` where a child compresses it, and start that child (reaping the ones that ended)."""
        self._dir.mkdir(parents=True, exist_ok=True)
        plain = self._dir / f"{key}.js"
        partial = plain.with_name(f"{key}.{os.getpid()}.part")
        partial.write_bytes(body)
        os.replace(partial, plain)
        self._children = [child for child in self._children if child.poll() is None]
        self._children.append(subprocess.Popen(
            [*NICE, sys.executable, "-m", "web.compression", str(plain)], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, cwd=ROOT))


def compress_file(plain):
    """In the child: compress `<key>.js` to `<key>.br` at quality 11 (once, whichever worker asked first)."""
    plain = Path(plain)
    target = plain.with_suffix(".br")
    with open(plain.with_suffix(".lock"), "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # another worker's child is on it
        if target.exists() or not plain.exists():
            return
        partial = target.with_name(f"{target.stem}.{os.getpid()}.part")
        partial.write_bytes(brotli.compress(plain.read_bytes(), quality=11))
        os.replace(partial, target)
        plain.unlink()


def install(server, cache_dir):
    """Register the after-request hook that serves cached Brotli for component bundles."""
    from flask import request  # here, so the child (`-m web.compression`) starts without importing Flask

    compressor = BundleCompressor(cache_dir)

    @server.after_request
    def brotli_bundles(response):
        """Swap a bundle's body for its Brotli form when the browser accepts br and it is ready."""
        if (request.method != "GET" or not request.path.startswith(PREFIX) or response.status_code != 200
                or "br" not in request.headers.get("Accept-Encoding", "") or response.direct_passthrough
                or "Content-Encoding" in response.headers):
            return response
        body = response.get_data()
        if len(body) < MIN_BYTES:
            return response
        compressed = compressor.get(request.path, body)
        if compressed is not None:
            response.set_data(compressed)
            response.headers["Content-Encoding"] = "br"
            response.vary.add("Accept-Encoding")
        return response


if __name__ == "__main__":
    compress_file(sys.argv[1])
