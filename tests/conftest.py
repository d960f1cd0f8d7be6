"""Fixtures only (the helpers they use live in testkit/): the scripted upstream, live apps, redis, the browser path."""

import os
import shutil
import sys
import uuid

import pytest

from testkit.app import LiveServer, build_app, stop_built_apps
from testkit.postgres import PostgresServer, postgres_bin
from testkit.redis_server import RedisServer
from testkit.upstream import ScriptedUpstream

# The deploy tests run the Render start command (`gunicorn …`) as Render does, with the installed scripts on PATH:
# here those beside the interpreter running the tests (the README runs .venv/bin/python without activating it).
os.environ["PATH"] = f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ.get('PATH', '')}"

# dash_duo drives Debian's chromium. Nothing here skips: without a browser the page tests error out.
if "DASH_TEST_CHROMEPATH" not in os.environ and shutil.which("chromium"):
    os.environ["DASH_TEST_CHROMEPATH"] = shutil.which("chromium")


def pytest_sessionstart(session):
    """On CI, stop at once (failing) when a browser-test dependency is missing, rather than test less."""
    missing = [tool for tool in ("chromium", "chromedriver", "redis-server") if not shutil.which(tool)]
    missing += [] if postgres_bin("initdb") else ["postgresql"]
    if os.environ.get("CI") and missing:
        pytest.exit(f"CI needs {', '.join(missing)} (apt-get install chromium chromium-driver redis-server "
                    "postgresql)", returncode=1)


@pytest.fixture(autouse=True)
def _stop_apps_after_each_test():
    """The apps a test built stop their background loops when it ends (after its servers)."""
    yield
    stop_built_apps()


@pytest.fixture
def upstream():
    """A scripted OpenAI-compatible server on a free loopback port."""
    with ScriptedUpstream() as server:
        yield server


@pytest.fixture
def serve():
    """Call serve(env) to get a LiveServer of a new app; all are shut down after the test."""
    servers = []

    def start(env):
        server = LiveServer(build_app(env)).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__()


@pytest.fixture
def redis_server():
    """A real redis-server on a free loopback port, no persistence; the test may stop() and start() it."""
    with RedisServer() as server:
        yield server


@pytest.fixture
def redis_url(redis_server):
    """The URL of a real redis-server (see redis_server)."""
    return redis_server.url


@pytest.fixture(scope="session")
def postgres():
    """One real PostgreSQL server for the whole run (each test gets its own database from `database_url`)."""
    with PostgresServer() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A fresh, empty database: a SQLite file, then (second run of the test) a new Postgres database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'chat.db'}"
        return
    import sqlalchemy as sa

    server = request.getfixturevalue("postgres")
    name = f"t{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    yield server.url.rsplit("/", 1)[0] + "/" + name
