"""A throwaway PostgreSQL server (Debian's `postgresql` binaries) on a free loopback port, for tests and benches.

initdb refuses to run as root, so as root the cluster belongs to the `postgres` system user.
"""

import glob
import os
import pwd
import shutil
import subprocess
import tempfile

from testkit.upstream import free_port


def postgres_bin(name) -> str | None:
    """Path of a PostgreSQL server program, from PATH or Debian's versioned folder."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


class PostgresServer:
    """initdb + pg_ctl into a temp dir; `url` is a SQLAlchemy URL for database `chat`."""

    def __init__(self):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="pg-")
        self.url = f"postgresql+psycopg://chat@127.0.0.1:{self.port}/chat"
        self._as_user = []
        if os.geteuid() == 0:
            os.chown(self.dir, pwd.getpwnam("postgres").pw_uid, pwd.getpwnam("postgres").pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args):
        """Run a server program (as the postgres user when we are root)."""
        subprocess.run([*self._as_user, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       cwd=self.dir)

    def __enter__(self):
        data = os.path.join(self.dir, "data")
        self._run(postgres_bin("initdb"), "-D", data, "-U", "chat", "--auth=trust", "-E", "UTF8", "--no-sync")
        self._run(postgres_bin("pg_ctl"), "-D", data, "-w", "-l", os.path.join(self.dir, "log"), "-o",
                  f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        self._run(postgres_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "chat", "chat")
        return self

    def stop(self):
        """Stop the server fast (as a crash would look to clients)."""
        self._run(postgres_bin("pg_ctl"), "-D", os.path.join(self.dir, "data"), "-m", "immediate", "stop")

    def start(self):
        """Start it again after stop()."""
        data = os.path.join(self.dir, "data")
        self._run(postgres_bin("pg_ctl"), "-D", data, "-w", "-l", os.path.join(self.dir, "log"), "-o",
                  f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def __exit__(self, *exc):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
