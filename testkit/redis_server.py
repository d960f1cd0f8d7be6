"""A real redis-server on a free loopback port (no persistence) that a test can stop and start again."""

import shutil
import subprocess

import redis

from testkit.upstream import free_port
from testkit.waiting import wait_until


class RedisServer:
    """redis-server in a subprocess; `url` stays the same across stop() and start()."""

    def __init__(self, *args):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        self.args = list(args)
        self.process = None

    def start(self):
        """Start it and wait until it answers PING."""
        self.process = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port", str(self.port),
                                         "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", *self.args],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(redis.Redis(port=self.port).ping, 10, "redis-server", ignore=(redis.ConnectionError,))
        return self

    def stop(self):
        """Stop it and wait until it has exited (its port refuses connections from then on)."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
