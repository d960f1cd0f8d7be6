"""Idle memory: the PSS of gunicorn's master and its workers, summed, after one page load (external backend).

PSS counts a page shared by n processes as 1/n in each, so the sum is what the app really holds. Both pages
run under the shipped gunicorn config (2 workers) against the scripted upstream, one after the other in the
same run: this checkout, then the previous page (BENCH_OLD_CHECKOUT, default ../wt-bench-old at 91bb291) as
the baseline. Each is loaded once in headless Chromium, the workers get a few seconds of quiet, and then
psutil reads every process's `memory_full_info()`.

Run it with the Python the README installs (`.venv/bin/python -m bench idle_memory`): a global Python with
extra packages (IPython, say) makes Dash import them too and shows more memory than users get.

    python -m bench idle_memory
"""

import importlib.util
import sys
import time
from contextlib import ExitStack

import psutil

from bench.common import print_table
from bench.first_load import OLD_CHECKOUT, PREVIOUS, CheckoutApp
from testkit.app import upstream_env
from testkit.browser import browser
from testkit.gunicorn_app import GunicornApp
from testkit.upstream import ScriptedUpstream
from testkit.waiting import wait_until

SETTLE_SECONDS = 5
MIB = 2 ** 20


def load_once(url):
    """One page load in a fresh headless Chromium, until the message box is there."""
    driver = browser()
    try:
        driver.get(url)
        wait_until(lambda: driver.execute_script(
            "return !!document.querySelector('#chat-input textarea, textarea#chat-input')"), 30, "the page")
    finally:
        driver.quit()


def memory(app):
    """(PSS of the master + workers, master PSS, each worker's PSS and USS), in MiB."""
    master = psutil.Process(app.process.pid)
    workers = master.children()
    infos = [p.memory_full_info() for p in [master, *workers]]
    return (sum(i.pss for i in infos) / MIB, infos[0].pss / MIB,
            [(i.pss / MIB, i.uss / MIB) for i in infos[1:]])


def main():
    """This page, then the previous one, each started, loaded once and measured at rest."""
    if importlib.util.find_spec("IPython"):
        print("(this Python has IPython, which Dash imports when it is there: run with .venv/bin/python)")
    apps = {"this page": None}
    if (OLD_CHECKOUT / "chat_app.py").exists():
        apps[f"previous page ({PREVIOUS})"] = OLD_CHECKOUT
    rows = []
    with ScriptedUpstream() as upstream:
        for name, root in apps.items():
            with ExitStack() as stack:
                env = upstream_env(upstream)
                app = stack.enter_context(GunicornApp(env) if root is None else CheckoutApp(env, root))
                load_once(app.url)
                time.sleep(SETTLE_SECONDS)
                total, master, workers = memory(app)
                rows.append([name, f"{total:.0f}", f"{master:.0f}",
                             ", ".join(f"{pss:.0f} / {uss:.0f}" for pss, uss in workers)])
    print_table(f"Idle memory after one page load ({sys.executable}; target ≤ 150 MiB)", rows,
                ["page", "PSS, master + workers (MiB)", "master PSS", "each worker: PSS / USS"])
