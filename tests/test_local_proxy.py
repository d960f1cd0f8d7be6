"""`python chat_app.py local` sends upstream calls through a real HTTP proxy (Debian's tinyproxy); plain
`python chat_app.py` does not."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from testkit.app import upstream_env
from testkit.upstream import free_port
from testkit.waiting import wait_until, wait_until_ok

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def tinyproxy(tmp_path):
    """tinyproxy on a free loopback port, logging every request it forwards; yields (url, log path)."""
    port = free_port()
    log = tmp_path / "tinyproxy.log"
    conf = tmp_path / "tinyproxy.conf"
    conf.write_text(f'Port {port}\nListen 127.0.0.1\nTimeout 60\nLogFile "{log}"\nLogLevel Info\n'
                    f"MaxClients 20\nAllow 127.0.0.1\n")
    process = subprocess.Popen([shutil.which("tinyproxy") or "/usr/bin/tinyproxy", "-d", "-c", str(conf)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: requests.get(f"http://127.0.0.1:{port}", timeout=1) is not None, 30, "tinyproxy")
    yield f"http://127.0.0.1:{port}", log
    process.terminate()
    process.wait(timeout=10)


def ask_app(args, env):
    """Run `python chat_app.py [args]`, ask one question, stop it; returns the answer."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "chat_app.py", *args], cwd=ROOT,
                               env={**os.environ, **env, "PORT": str(port)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_ok(f"{url}/healthz")
        response = requests.post(f"{url}/v1/chat/completions", timeout=30, json={
            "model": "scripted", "messages": [{"role": "user", "content": "via proxy?"}]})
        return response.json()["choices"][0]["message"]["content"]
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_local_switch_routes_upstream_calls_through_the_proxy(upstream, tinyproxy):
    proxy_url, proxy_log = tinyproxy
    env = {**upstream_env(upstream), "PROXY_URL": proxy_url}
    assert ask_app(["local"], env) == "Answer to: via proxy? (saw 0 earlier messages)"
    through_proxy = [line for line in proxy_log.read_text().splitlines() if "/v1/chat/completions" in line]
    assert through_proxy and upstream.url.split("/v1")[0] in through_proxy[0]

    assert ask_app([], env) == "Answer to: via proxy? (saw 0 earlier messages)"
    assert len(upstream.requests) == 2
    assert [line for line in proxy_log.read_text().splitlines() if "/v1/chat/completions" in line] == through_proxy
