"""The README's first command, run as written on a copy of the repo: a fresh venv, the install, a chat answer."""

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import requests

from testkit.upstream import free_port
from testkit.waiting import wait_until, wait_until_ok

ROOT = Path(__file__).resolve().parent.parent


def readme_commands():
    """The README's top-level ```bash blocks (not the indented ones inside lists)."""
    return re.findall(r"^```bash\n(.*?)\n```", (ROOT / "README.md").read_text(), re.M)


def test_the_chinese_and_english_readmes_give_the_same_run_command():
    commands = readme_commands()
    run = [c for c in commands if "chat_app.py" in c]
    assert len(run) == 2 and run[0] == run[1] and "venv" in run[0]


def test_the_readme_command_installs_and_chats_in_a_fresh_venv(tmp_path):
    # On a copy of the tracked files, so the repo's own .venv and data stay untouched. pip's cache is warm
    # here (.ci/run installed the same packages): this checks the command works, not how long a download takes.
    copy = tmp_path / "app"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, copy / name)
    command = next(c for c in readme_commands() if "chat_app.py" in c)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "EMBEDDED_", "DATA_DIR", "VIRTUAL_ENV"))}
    log = open(tmp_path / "run.log", "wb")
    process = subprocess.Popen(["bash", "-c", command], cwd=copy, env={**env, "PORT": str(port)},
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        def serving():
            if process.poll() is not None:
                raise RuntimeError((tmp_path / "run.log").read_text(errors="replace")[-3000:])
            return requests.get(f"{url}/healthz", timeout=2).ok

        wait_until(serving, 900, "the README command to serve")
        assert (copy / ".venv" / "bin" / "python").exists()
        health = requests.get(f"{url}/healthz", timeout=5).json()
        assert (health["status"], health["backend"], health["store"]) == ("ok", "embedded", "ok")
        response = requests.post(f"{url}/v1/chat/completions", timeout=300, json={
            "messages": [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}],
            "temperature": 0})
        assert "Paris" in response.json()["choices"][0]["message"]["content"]
        wait_until_ok(url)  # and the page
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        log.close()
