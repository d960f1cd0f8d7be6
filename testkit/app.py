"""The app under test: its environment against the scripted upstream, a fresh app, and a live loopback server."""

import tempfile

from werkzeug.serving import make_server

from config import load_settings
from testkit.upstream import BackgroundServer

TEST_KEY = "sk-test-SECRET-4f9a1c"


def upstream_env(upstream, **extra):
    """Environment for an app that talks to the scripted upstream with a (fake) secret key.

    The upstream's timeout is generous: the app, the upstream and the test's own readers share one process (and a
    noisy machine), and a pause of a few seconds there must not cut an answer short. Tests of the timeout set theirs.
    """
    env = {"OPENAI_API_KEY": TEST_KEY, "OPENAI_BASE_URL": upstream.url, "MODELS": "scripted,other",
           "REQUEST_TIMEOUT": "30"}
    env.update(extra)
    return env


_running_apps = []  # (app, its temporary data directory) for the apps built here whose background loops still run


def build_app(env):
    """A fresh Dash app from an explicit environment (nothing read from the real one), started as
    `python chat_app.py` starts it."""
    from chat_app import create_app, start_background

    data_dir = tempfile.TemporaryDirectory(prefix="chat-data-", ignore_cleanup_errors=True)
    env = {"DATA_DIR": data_dir.name, **env}  # every app its own empty store
    app = create_app(load_settings(env, dotenv_path=None))
    start_background(app.server)
    _running_apps.append((app, data_dir))
    return app


def stop_built_apps():
    """End the background loops of every app built so far and remove their temporary stores: a test's apps are
    done when it ends, and the tests' process goes on (their loops would keep waking up, more of them after each
    test, and a test run would leave hundreds of stores behind)."""
    from chat_app import stop_background

    while _running_apps:
        app, data_dir = _running_apps.pop()
        stop_background(app.server)
        data_dir.cleanup()


class LiveServer(BackgroundServer):
    """The app's Flask server on a real loopback socket, in a background thread."""

    def __init__(self, app):
        super().__init__(make_server("127.0.0.1", 0, app.server, threaded=True))
        self.app = app
        self.url = f"http://127.0.0.1:{self._server.server_port}"
