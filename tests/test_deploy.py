"""Every documented way of running the app, exercised for real: Render's Blueprint, nginx with HTTPS in
front of gunicorn, two instances sharing Redis, an instance killed mid-answer, and a graceful reload."""

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import httpx2
import psutil
import pytest
import requests
import yaml

from config import load_settings
from testkit.api_client import answer_text
from testkit.app import upstream_env
from testkit.generations import ask, ending, follow, live_events, read_events, text_of
from testkit.gunicorn_app import ROOT, GunicornApp
from testkit.upstream import Script, free_port
from testkit.waiting import wait_until, wait_until_ok

# --- Render ---

# Fields of a web service in Render's Blueprint spec (render.com/docs/blueprint-spec).
RENDER_SERVICE_FIELDS = {
    "type", "name", "runtime", "repo", "branch", "rootDir", "plan", "region", "numInstances", "scaling",
    "buildCommand", "preDeployCommand", "startCommand", "healthCheckPath", "autoDeploy", "autoDeployTrigger",
    "maxShutdownDelaySeconds", "domains", "envVars", "buildFilter", "disk", "previews", "dockerCommand",
    "dockerfilePath", "dockerContext", "registryCredential", "image",
}
RENDER_RUNTIMES = {"docker", "elixir", "go", "image", "node", "python", "ruby", "rust", "static"}
RENDER_REGIONS = {"oregon", "ohio", "virginia", "frankfurt", "singapore"}
RENDER_ENV_SOURCES = {"value", "generateValue", "sync", "fromDatabase", "fromService", "fromGroup"}


def render_service():
    """The web service of the repo's render.yaml."""
    blueprint = yaml.safe_load((ROOT / "render.yaml").read_text())
    assert set(blueprint) <= {"services", "databases", "envVarGroups", "projects", "ungrouped", "previews"}
    (service,) = blueprint["services"]
    return service


def test_render_blueprint_uses_only_spec_fields_and_keeps_secrets_out():
    service = render_service()
    assert set(service) <= RENDER_SERVICE_FIELDS, set(service) - RENDER_SERVICE_FIELDS
    assert service["type"] == "web" and service["runtime"] in RENDER_RUNTIMES and service["runtime"] == "python"
    assert service["region"] in RENDER_REGIONS
    assert service["healthCheckPath"] == "/healthz"
    assert 0 < service["maxShutdownDelaySeconds"] <= 300
    env = {}
    for var in service["envVars"]:
        sources = set(var) & RENDER_ENV_SOURCES
        assert len(sources) == 1 and set(var) <= RENDER_ENV_SOURCES | {"key"}, var
        env[var["key"]] = var
    assert env["OPENAI_API_KEY"] == {"key": "OPENAI_API_KEY", "sync": False}
    assert env["ACCESS_CODE"] == {"key": "ACCESS_CODE", "sync": False}
    assert re.fullmatch(r"3\.\d+\.\d+", str(env["PYTHON_VERSION"]["value"]))


def test_render_keeps_conversations_in_its_postgres_not_on_the_wiped_disk():
    blueprint = yaml.safe_load((ROOT / "render.yaml").read_text())
    env = {var["key"]: var for var in render_service()["envVars"]}
    (database,) = blueprint["databases"]
    assert set(database) <= {"name", "plan", "region", "databaseName", "user", "postgresMajorVersion",
                             "ipAllowList", "readReplicas", "diskSizeGB", "highAvailability"}
    assert env["DATABASE_URL"]["fromDatabase"] == {"name": database["name"], "property": "connectionString"}
    assert env["SECRET_KEY"] == {"key": "SECRET_KEY", "generateValue": True}
    assert load_settings({"DATABASE_URL": "postgresql://chat:pw@dpg-x/chat"}, None).database_url.startswith(
        "postgresql+psycopg://")


@pytest.mark.parametrize("key,installs_model", [("sk-real", False), ("", True)])
def test_render_build_skips_the_embedded_model_when_a_key_is_set(tmp_path, key, installs_model):
    # Run the Blueprint's real build command with a stand-in `pip` that records what it was asked to install.
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    calls = tmp_path / "pip-calls"
    fake_pip = fake_bin / "pip"
    fake_pip.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    fake_pip.chmod(fake_pip.stat().st_mode | stat.S_IEXEC)
    env = {"PATH": f"{fake_bin}:{os.environ['PATH']}", "OPENAI_API_KEY": key, "OPENAI_BASE_URL": ""}
    subprocess.run(["bash", "-c", render_service()["buildCommand"]], cwd=ROOT, env=env, check=True)
    installed = calls.read_text()
    assert "-r requirements.txt" in installed
    assert ("requirements-embedded.txt" in installed) == installs_model


def test_render_start_command_binds_port_and_passes_the_health_check(upstream):
    port = free_port()
    env = {**os.environ, **upstream_env(upstream), "PORT": str(port), "HOST": ""}
    process = subprocess.Popen(["bash", "-c", render_service()["startCommand"]], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_ok(f"http://127.0.0.1:{port}/healthz")
        listening = [c.laddr for p in psutil.Process(process.pid).children(recursive=True) + [psutil.Process(process.pid)]
                     for c in p.net_connections("tcp") if c.status == psutil.CONN_LISTEN]
        assert ("0.0.0.0", port) in [(a.ip, a.port) for a in listening]  # Render routes to 0.0.0.0:$PORT
    finally:
        process.terminate()
        process.wait(timeout=30)


# --- nginx with HTTPS ---

class Nginx:
    """Debian's nginx running the repo's deploy/nginx/chat-app.conf on loopback with a self-signed certificate."""

    def __init__(self, tmp_path, app_urls, extra=()):
        self.dir = tmp_path
        self.https_port, self.http_port = free_port(), free_port()
        self.cert, key = tmp_path / "chat.crt", tmp_path / "chat.key"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(self.cert)],
                       check=True, capture_output=True)
        site = (ROOT / "deploy" / "nginx" / "chat-app.conf").read_text()
        replacements = [
            ("listen 443 ssl", f"listen 127.0.0.1:{self.https_port} ssl"),
            ("listen 80;", f"listen 127.0.0.1:{self.http_port};"),
            ("/etc/ssl/certs/chat-app.crt", str(self.cert)),
            ("/etc/ssl/private/chat-app.key", str(key)),
            ("server 127.0.0.1:8050 max_fails=1 fail_timeout=10s;",
             " ".join(f"server {u.split('//')[1]} max_fails=1 fail_timeout=10s;" for u in app_urls)),
            *extra,
        ]
        for old, new in replacements:
            assert old in site, f"deploy/nginx/chat-app.conf no longer contains {old!r}"
            site = site.replace(old, new)
        temp_paths = " ".join(f"{name}_temp_path {tmp_path}/{name};" for name in ("client_body", "proxy", "fastcgi",
                                                                                  "uwsgi", "scgi"))
        (tmp_path / "nginx.conf").write_text(
            f"user root; daemon off; worker_processes 1; pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;\n"
            f"events {{ worker_connections 1024; }}\n"
            f"http {{ access_log {tmp_path}/access.log; {temp_paths}\n{site}\n}}\n")
        self.url = f"https://127.0.0.1:{self.https_port}"

    def __enter__(self):
        self.process = subprocess.Popen([shutil.which("nginx") or "/usr/sbin/nginx", "-p", str(self.dir), "-c",
                                         str(self.dir / "nginx.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_until_ok(f"{self.url}/healthz", verify=str(self.cert))
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(timeout=10)


def test_header_auth_takes_the_user_nginx_authenticated_and_never_one_a_client_sends(upstream, tmp_path):
    htpasswd = tmp_path / "htpasswd"
    hashed = subprocess.run(["openssl", "passwd", "-apr1", "grandpa-pw"], check=True, capture_output=True, text=True)
    htpasswd.write_text(f"grandpa:{hashed.stdout.strip()}\n")
    env = upstream_env(upstream, AUTH="header", TRUSTED_PROXIES="1")
    basic_auth = ("location / {", f"location /signed/ {{ auth_basic chat; auth_basic_user_file {htpasswd}; "
                                  "proxy_pass http://chat_app/; proxy_set_header Remote-User $remote_user; }\n"
                                  "    location / {")
    with GunicornApp(env) as app, Nginx(tmp_path, [app.url], [basic_auth]) as nginx:
        me = f"{nginx.url}/signed/api/auth/me"
        assert requests.get(me, verify=str(nginx.cert), timeout=10).status_code == 401  # nginx asks for a password
        signed = requests.get(me, auth=("grandpa", "grandpa-pw"), verify=str(nginx.cert), timeout=10)
        assert signed.status_code == 200 and signed.json()["user"]["name"] == "grandpa"
        forged = requests.get(f"{nginx.url}/api/auth/me", headers={"Remote-User": "grandpa"}, verify=str(nginx.cert),
                              timeout=10)
        assert forged.status_code == 401


def stream_with_arrivals(url, cert, question="hello", history=()):
    """Stream an answer through nginx; returns (events, monotonic arrival time of each content delta)."""
    events, arrivals = [], []
    body = {"model": "scripted", "stream": True, "messages": [*history, {"role": "user", "content": question}]}
    with httpx2.Client(verify=str(cert), timeout=60) as client, \
            client.stream("POST", f"{url}/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        try:
            for line in response.iter_lines():
                if line.startswith("data: "):
                    events.append(line[6:] if line == "data: [DONE]" else json.loads(line[6:]))
                    if isinstance(events[-1], dict) and events[-1].get("choices") and \
                            events[-1]["choices"][0]["delta"].get("content"):
                        arrivals.append(time.monotonic())
        except httpx2.RemoteProtocolError:
            events.append("connection cut")
    return events, arrivals


def test_https_through_nginx_streams_tokens_as_they_come(upstream, tmp_path):
    with GunicornApp(upstream_env(upstream)) as app, Nginx(tmp_path, [app.url]) as nginx:
        upstream.script = Script(reply="one two three four five six", chunk_chars=4, delay=0.15)
        events, arrivals = stream_with_arrivals(nginx.url, nginx.cert)
        assert answer_text(events) == "one two three four five six" and events[-1] == "[DONE]"
        # Incremental: the first words were in the client's hands before the upstream had sent the last ones.
        assert arrivals[0] < upstream.requests[-1]["finished"]
        assert len(set(arrivals)) == len(arrivals) == 7
        page = requests.get(nginx.url, verify=str(nginx.cert), timeout=10)
        assert page.status_code == 200 and "Strict-Transport-Security" in page.headers
        plain = requests.get(f"http://127.0.0.1:{nginx.http_port}/", allow_redirects=False, timeout=10)
        assert plain.status_code == 301 and plain.headers["Location"].startswith("https://")


def test_two_instances_share_limits_and_survive_one_dying_mid_answer(upstream, redis_url, tmp_path):
    env = upstream_env(upstream, RATE_LIMIT="40/minute", RATE_LIMIT_STORAGE_URI=redis_url, TRUSTED_PROXIES="1")
    with GunicornApp(env) as first, GunicornApp(env) as second, Nginx(tmp_path, [first.url, second.url]) as nginx:
        # A conversation continues whichever instance answers: the history travels with each request.
        history = []
        for n in range(4):
            events, _ = stream_with_arrivals(nginx.url, nginx.cert, f"q{n}", history)
            answer = answer_text(events)
            assert answer == f"Answer to: q{n} (saw {2 * n} earlier messages)"
            history += [{"role": "user", "content": f"q{n}"}, {"role": "assistant", "content": answer}]
        assert "POST /v1/chat/completions" in first.log() and "POST /v1/chat/completions" in second.log()

        # Kill the instance that is streaming an answer; the client sees a cut stream, not a hang.
        upstream.script = Script(reply="slow " * 400, chunk_chars=5, delay=0.05)
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(stream_with_arrivals, nginx.url, nginx.cert, "long one")
            victim = wait_for_streaming_instance([first, second], upstream)
            for process in [*psutil.Process(victim.process.pid).children(), psutil.Process(victim.process.pid)]:
                process.send_signal(signal.SIGKILL)
            events, _ = pending.result(timeout=60)
        assert "[DONE]" not in events  # the page marks this answer interrupted and offers Retry
        assert ("slow " * 400).startswith(answer_text(events))
        # Retry goes to the surviving instance.
        upstream.script = Script()
        events, _ = stream_with_arrivals(nginx.url, nginx.cert, "retry")
        assert answer_text(events) == "Answer to: retry (saw 0 earlier messages)" and events[-1] == "[DONE]"


def test_two_instances_behind_nginx_resume_and_stop_one_answer_from_either(upstream, redis_url, tmp_path):
    # One store (a SQLite file in a shared DATA_DIR, so one session key too) and one Redis for the logs.
    env = upstream_env(upstream, REDIS_URL=redis_url, DATA_DIR=str(tmp_path / "data"), TRUSTED_PROXIES="1")
    with GunicornApp(env) as first, GunicornApp(env) as second, Nginx(tmp_path, [first.url, second.url]) as nginx:
        through_nginx = requests.Session()
        through_nginx.verify = str(nginx.cert)
        through_nginx.trust_env = False  # else REQUESTS_CA_BUNDLE, when set, replaces the session's verify
        cid = through_nginx.post(f"{nginx.url}/api/conversations", json={}).json()["id"]
        answer = "两台 instances, one answer; 😀 " * 40
        upstream.script = Script(reply=answer, chunk_chars=3, delay=0.02)  # ~6 s
        gid = ask(through_nginx, nginx, cid)
        runner = wait_for_streaming_instance([first, second], upstream)
        other = second if runner is first else first
        with ThreadPoolExecutor(1) as pool:
            # A viewer through nginx that never reconnects: what the reconnecting one must add up to.
            whole = pool.submit(lambda: read_events(follow(through_nginx, nginx, gid)))
            # The first events from the instance that does not run the answer, the rest from the one that does.
            head = []
            for event in live_events(follow(requests.Session(), other, gid)):
                head.append(event)
                if len(head) == 10:
                    break
            assert upstream.requests[-1].get("finished") is None  # still running when the viewer reconnects
            rest = read_events(follow(requests.Session(), runner, gid, head[-1][0]))
            whole = whole.result(timeout=60)
        assert head + rest == whole  # the same events, ids included: none lost, none twice
        assert text_of(whole) == answer and ending(whole) == "[DONE]"

        # Stop sent to the instance that does not run the answer ends it for a viewer of the one that does.
        upstream.script = Script(reply="y" * 4000, chunk_chars=2, delay=0.02)  # ~40 s if not stopped
        gid = ask(through_nginx, nginx, cid, "stop me")
        runner = wait_for_streaming_instance([first, second], upstream)
        other = second if runner is first else first
        viewer = live_events(follow(requests.Session(), runner, gid))
        seen = [next(viewer)]
        stopped_at = time.monotonic()
        assert requests.post(f"{other.url}/api/generations/{gid}/cancel", timeout=10).json() == {"cancelled": True}
        closed = upstream.wait_for_close(timeout=5)
        assert closed is not None and closed - stopped_at < 1.0
        seen.extend(viewer)
        assert ending(seen) == "cancelled"
        stored = through_nginx.get(f"{nginx.url}/api/conversations/{cid}").json()["messages"][-1]
        assert stored["status"] == "interrupted" and stored["content"] == text_of(seen)


def wait_for_streaming_instance(apps, upstream):
    """The app instance whose worker holds an open connection to the upstream (the one streaming now)."""
    port = int(upstream.url.split(":")[2].split("/")[0])

    def streaming_instance():
        for app in apps:
            for worker in psutil.Process(app.process.pid).children():
                if any(c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
                       for c in worker.net_connections("tcp")):
                    return app
        return None

    return wait_until(streaming_instance, 30, "an instance to stream")


# --- graceful reload ---

def test_hup_reload_lets_fifty_open_streams_finish(upstream):
    upstream.script = Script(reply=lambda body: body["messages"][-1]["content"] * 30, chunk_chars=10, delay=0.1)
    with GunicornApp(upstream_env(upstream)) as app:
        old_workers = {p.pid for p in psutil.Process(app.process.pid).children()}
        questions = [f"stream-{i:02d}|" for i in range(50)]
        with ThreadPoolExecutor(50) as pool:
            futures = [pool.submit(stream_with_arrivals_plain, app.url, q) for q in questions]
            wait_until(lambda: len(upstream.requests) == 50, 60, "all 50 streams to open before the reload")
            app.process.send_signal(signal.SIGHUP)
            answers = [f.result(timeout=120) for f in futures]
        assert answers == [q * 30 for q in questions]  # nothing lost, nothing cut
        wait_until_ok(f"{app.url}/healthz")
        # Old workers exit once their last stream is done; the reload really replaced them.
        current_workers = lambda: {p.pid for p in psutil.Process(app.process.pid).children()}  # noqa: E731
        wait_until(lambda: current_workers() and not current_workers() & old_workers, 30, "old workers to exit")
        assert stream_with_arrivals_plain(app.url, "after|") == "after|" * 30


def stream_with_arrivals_plain(url, question):
    """Stream one answer over plain HTTP; returns its text, or raises if it did not end with [DONE]."""
    body = {"model": "scripted", "stream": True, "messages": [{"role": "user", "content": question}]}
    events = []
    with requests.post(f"{url}/v1/chat/completions", json=body, stream=True, timeout=120) as response:
        for line in response.iter_lines():
            if line.startswith(b"data: "):
                events.append("[DONE]" if line == b"data: [DONE]" else json.loads(line[6:]))
    assert events and events[-1] == "[DONE]", events[-3:]
    return answer_text(events)
