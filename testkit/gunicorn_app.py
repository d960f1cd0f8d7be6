"""Run `gunicorn chat_app:server -c gunicorn.conf.py` in a subprocess on a free loopback port."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import requests

from config import DEFAULT_DATA_DIR
from testkit.upstream import free_port
from testkit.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent
# The real embedded model is joined here once (as the app does by default) and shared by the tests that load it.
MODEL_DATA_DIR = str(ROOT / DEFAULT_DATA_DIR)


class GunicornApp:
    """The app as deployed: the shipped gunicorn config, the given environment, output in a log file."""

    def __init__(self, env, extra_args=()):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Its own empty store and log folder, removed when the object is (the log stays readable after exit).
        self._temporary = tempfile.TemporaryDirectory(prefix="chat-gunicorn-", ignore_cleanup_errors=True)
        self.env = {"DATA_DIR": f"{self._temporary.name}/data", **os.environ, **env, "HOST": "127.0.0.1",
                    "PORT": str(self.port)}
        self.extra_args = list(extra_args)
        self.log_path = Path(self._temporary.name) / "gunicorn.log"
        self.process = None

    def __enter__(self):
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "chat_app:server", "-c", "gunicorn.conf.py", *self.extra_args],
            cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        try:
            wait_until(self._healthy, 60, "gunicorn to become healthy")
        except (TimeoutError, RuntimeError):
            self.process.kill()
            raise RuntimeError(f"gunicorn did not become healthy:\n{self.log()}") from None
        return self

    def _healthy(self):
        """True once /healthz answers 200; raises if gunicorn exited."""
        if self.process.poll() is not None:
            raise RuntimeError("gunicorn exited")
        return requests.get(f"{self.url}/healthz", timeout=1).ok

    def __exit__(self, *exc):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._log.close()

    def log(self):
        """Everything gunicorn and the app printed so far."""
        return self.log_path.read_text(errors="replace")
