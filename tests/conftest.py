"""Shared fixtures: the scripted upstream, the app served on a real loopback socket, the browser path."""

import os
import shutil
import subprocess
import tempfile
import uuid

import pytest
import redis
from werkzeug.serving import make_server

from config import load_settings
from tests.postgres_server import PostgresServer, postgres_bin
from tests.scripted_upstream import BackgroundServer, ScriptedUpstream, free_port
from tests.waiting import wait_until

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

TEST_KEY = "sk-test-SECRET-4f9a1c"


@pytest.fixture
def upstream():
    """A scripted OpenAI-compatible server on a free loopback port."""
    with ScriptedUpstream() as server:
        yield server


def upstream_env(upstream, **extra):
    """Environment for an app that talks to the scripted upstream with a (fake) secret key."""
    env = {"OPENAI_API_KEY": TEST_KEY, "OPENAI_BASE_URL": upstream.url, "MODELS": "scripted,other",
           "REQUEST_TIMEOUT": "5"}
    env.update(extra)
    return env


def build_app(env):
    """A fresh Dash app from an explicit environment (nothing read from the real one)."""
    from chat_app import create_app

    env = {"DATA_DIR": tempfile.mkdtemp(prefix="chat-data-"), **env}  # every app its own empty store
    return create_app(load_settings(env, dotenv_path=None))


class LiveServer(BackgroundServer):
    """The app's Flask server on a real loopback socket, in a background thread."""

    def __init__(self, app):
        super().__init__(make_server("127.0.0.1", 0, app.server, threaded=True))
        self.app = app
        self.url = f"http://127.0.0.1:{self._server.server_port}"


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
def redis_url():
    """A real redis-server on a free loopback port, no persistence."""
    port = free_port()
    process = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind",
                                "127.0.0.1", "--save", "", "--appendonly", "no"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    wait_until(client.ping, 10, "redis-server", ignore=(redis.ConnectionError,))
    yield f"redis://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


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
