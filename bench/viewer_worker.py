"""Which worker serves the page's answer stream: the one that generates the answer, or the other?

A viewer on the other worker costs a follower there (it reads the log file every 60 ms), which is most of what the
two-connection rows of `python -m bench.generations held` pay over one connection. Real headless Chromium against
the shipped gunicorn config (2 workers): while each answer streams, the workers' open files say where it is generated
(the log file open for writing) and whether another worker follows it (open read-only); the browser's network log
says which connection the stream's GET went on. A control at the end opens the same stream on fresh connections from
Python, which land on either worker.
"""

import json
import os

import psutil
import requests

from bench.common import print_table
from components import ids
from testkit.app import upstream_env
from testkit.browser import ASSISTANT, ask_in_page, browser
from testkit.gunicorn_app import GunicornApp
from testkit.upstream import Script, ScriptedUpstream
from testkit.waiting import wait_until

RUNS = 10
CONTROLS = 20
FOLLOW_WITHIN = 0.5  # a follower opens the file within its first round (20 ms); time to look twice or more
LAST_DONE = f"return [...document.querySelectorAll(\"{ASSISTANT}\")].pop().dataset.status === 'done'"


def holders(workers, log_path):
    """{worker pid: "write" or "read"} for the workers that have this log file open."""
    found = {}
    for pid in workers:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") != log_path:
                    continue
                with open(f"/proc/{pid}/fdinfo/{fd}") as info:
                    flags = int(info.read().split("flags:")[1].split()[0], 8)
            except OSError:  # closed meanwhile
                continue
            found[pid] = "write" if flags & (os.O_WRONLY | os.O_RDWR) else "read"
    return found


def followed(workers, log_path, seconds=FOLLOW_WITHIN):
    """True when, within `seconds`, a worker other than the generating one follows the log."""
    try:
        return wait_until(lambda: "read" in holders(workers, log_path).values(), seconds, "a follower")
    except TimeoutError:
        return False


def connections(driver, gid):
    """(the connection id of the answer's GET …/events, that of the last Dash callback answered before it), from the
    browser's network log."""
    responses = [message["params"]["response"] for entry in driver.get_log("performance")
                 if (message := json.loads(entry["message"])["message"])["method"] == "Network.responseReceived"]
    last_callback = None
    for response in responses:
        if response["url"].endswith(f"/api/generations/{gid}/events"):
            return response["connectionId"], last_callback
        if "/_dash-update-component" in response["url"]:
            last_callback = response["connectionId"]
    return None, last_callback


def main():
    """Ask RUNS questions in the page; count the answers whose stream another worker served; then the control."""
    with ScriptedUpstream() as upstream, GunicornApp(upstream_env(upstream)) as app:
        upstream.script = Script(reply=" ".join(f"word{i}" for i in range(600)), chunk_chars=5, delay=0.02)
        workers = wait_until(lambda: len(pids := [c.pid for c in psutil.Process(app.process.pid).children()]) == 2
                             and pids, 30, "2 workers")
        live = os.path.realpath(os.path.join(app.env["DATA_DIR"], "live"))
        driver = browser()
        page_followed = reused = 0
        try:
            driver.get(app.url)
            wait_until(lambda: driver.find_elements("css selector", f"#{ids.INPUT}"), 30, "the page")
            for run in range(RUNS):
                ask_in_page(driver, f"question {run}", run + 1, 200)
                newest = max(os.scandir(live), key=lambda e: e.stat().st_mtime if e.name.endswith(".log") else 0)
                gid = newest.name.removesuffix(".log")
                page_followed += followed(workers, newest.path)
                stream, callback = connections(driver, gid)
                reused += stream is not None and stream == callback
                if run == RUNS - 1:
                    streams = [requests.get(f"{app.url}/api/generations/{gid}/events", stream=True, timeout=30,
                                            headers={"Connection": "close"}) for _ in range(CONTROLS)]
                    control_followed = followed(workers, newest.path)
                    for stream in streams:
                        stream.close()
                driver.execute_script(f"document.getElementById('{ids.STOP}').click()")
                wait_until(lambda: driver.execute_script(LAST_DONE), 30, "stop")
        finally:
            driver.quit()
    print_table("Where the page's answer stream is served (gunicorn, 2 workers, headless Chromium)", [
        ["the page's answers followed by the other worker", f"{page_followed} of {RUNS}"],
        ["their GET …/events on the connection of the Dash callback just before it", f"{reused} of {RUNS}"],
        [f"control: {CONTROLS} new connections to the last answer, another worker follows it",
         "yes" if control_followed else "no"]], ["", ""])


if __name__ == "__main__":
    main()
