"""First load in headless Chromium, this page next to the previous one (A/B in the same run): the time until a
person can type and send, the bytes transferred until then (compressed, headers included), requests, cold
(empty cache) and warm (a reload).

Usable means: the message box (`#chat-input`) and an enabled Send button are on screen and the conversation
list (`#conv-list`) has been drawn (it has children: the conversations, or "no conversations yet" on this empty
store). The list is drawn only once the page has its data (this page: the first round of Python callbacks
against the store; the previous page: chat.js after reading IndexedDB), and by then Dash has wired the Send
button, so text typed now can be sent. A script installed before the page's own notes the first moment this
holds (a MutationObserver), so the time is not rounded to the bench's polling.

"kB until usable" sums `transferSize` (headers + compressed body) of the document and of every resource whose
response ended before that moment (same clock, the Resource Timing API). "kB first screen" is the earlier
measure: everything the load fetched once the page settles, except fmc's Markdown bundle, which chat.js
fetches after the first screen and is counted apart.

The previous page is the git commit PREVIOUS (91bb291, before conversations moved to the server), checked out
in another worktree (`git worktree add ../wt-bench-old 91bb291`, or BENCH_OLD_CHECKOUT=path) and served the
same way: its own gunicorn with its own shipped config, one worker each, the same scripted upstream. The
first load after the workers start is measured for each as well: the app's best-level Brotli bundles are still
being compressed in the background then, so Flask-Compress's quick compression serves everything. Then cold
loads once Brotli is ready, alternating between the two pages, and a warm reload after each.
"""

import json
import os
import re
from contextlib import ExitStack
from pathlib import Path

import brotli
import requests

from bench.common import median, print_table
from bench.wire_bytes import network_events, turn_bytes
from testkit import gunicorn_app
from testkit.app import upstream_env
from testkit.browser import PAGE_IDS, browser, wait_for_markdown
from testkit.gunicorn_app import GunicornApp
from testkit.upstream import ScriptedUpstream
from testkit.waiting import wait_until

RUNS = int(os.environ.get("BENCH_RUNS", "5"))
PREVIOUS = "91bb291"
OLD_CHECKOUT = Path(os.environ.get("BENCH_OLD_CHECKOUT") or gunicorn_app.ROOT.parent / "wt-bench-old")
DEFERRED = "feffery_markdown_components"  # fmc's bundle: loaded by chat.js once the page is idle
# Installed before the page's scripts: the first moment a person can type and send (see above).
WATCH_READY = PAGE_IDS + """
window.__readyAt = null;
const usable = () => {
  const box = document.querySelector(`#${pageIds.INPUT} textarea, textarea#${pageIds.INPUT}`);
  const send = document.getElementById(pageIds.SEND);
  const list = document.getElementById(pageIds.LIST);
  return box && !box.disabled && send && !send.disabled && list && list.children.length > 0;
};
const watch = () => {
  if (usable()) { window.__readyAt = performance.now(); return; }
  new MutationObserver((_, observer) => {
    if (usable()) { window.__readyAt = performance.now(); observer.disconnect(); }
  }).observe(document.documentElement, {subtree: true, childList: true, attributes: true});
};
document.readyState === 'loading' ? document.addEventListener('DOMContentLoaded', watch) : watch();
"""
BYTES_UNTIL = """
const until = arguments[0];
const nav = performance.getEntriesByType('navigation')[0];
return performance.getEntriesByType('resource').filter((e) => e.responseEnd <= until)
  .reduce((sum, e) => sum + e.transferSize, nav.transferSize);
"""


class CheckoutApp(GunicornApp):
    """GunicornApp serving the checkout at `root` (its own chat_app and gunicorn.conf.py) instead of this one."""

    def __init__(self, env, root):
        super().__init__(env)
        self.root = Path(root)

    def __enter__(self):
        saved, gunicorn_app.ROOT = gunicorn_app.ROOT, self.root  # GunicornApp starts gunicorn with cwd=ROOT
        try:
            return super().__enter__()
        finally:
            gunicorn_app.ROOT = saved


def load(driver, url, reload=False):
    """One page load: (ms until usable, bytes until usable, bytes for the first screen, requests, deferred bytes)."""
    network_events(driver)
    script = driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH_READY})
    if reload:
        driver.refresh()
    else:
        driver.get(url)
    ready = wait_until(lambda: driver.execute_script("return window.__readyAt"), 30, "the page")
    driver.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]})
    # Requests the first render starts (lazy component chunks) belong to the load too; so does the Markdown
    # bundle chat.js fetches once the page is idle, counted apart (the first screen does not wait for it).
    wait_for_markdown(driver)
    wait_until(lambda: driver.execute_script(
        "return performance.getEntriesByType('resource').every((e) => e.responseEnd > 0)"), 10, "requests")
    until = driver.execute_script(BYTES_UNTIL, ready)
    events = network_events(driver)
    deferred = {e["params"]["requestId"] for e in events if e["method"] == "Network.requestWillBeSent"
                and DEFERRED in e["params"]["request"]["url"]}
    _, received, _, requests = turn_bytes([e for e in events if e.get("params", {}).get("requestId") not in deferred])
    _, deferred_bytes, _, _ = turn_bytes([e for e in events if e.get("params", {}).get("requestId") in deferred])
    return ready, until, received, requests, deferred_bytes


def first(url):
    """The workers' first load, in a fresh browser."""
    driver = browser()
    try:
        return load(driver, url)
    finally:
        driver.quit()


def main():
    """Both pages: the first load after start, then RUNS alternating cold loads (Brotli ready) + warm reloads."""
    names = ["this page"]
    if (OLD_CHECKOUT / "chat_app.py").exists():
        names.append(f"previous page ({PREVIOUS})")
    else:
        print(f"(the previous page is not checked out at {OLD_CHECKOUT}: this page only; "
              f"git worktree add {OLD_CHECKOUT} {PREVIOUS}, or set BENCH_OLD_CHECKOUT)")
    pages = {}
    with ExitStack() as stack:
        upstream = stack.enter_context(ScriptedUpstream())
        env = upstream_env(upstream, WEB_CONCURRENCY="1")
        apps = {name: stack.enter_context(GunicornApp(env) if i == 0 else CheckoutApp(env, OLD_CHECKOUT))
                for i, name in enumerate(names)}
        for name, app in apps.items():
            pages[name] = {"first": [first(app.url)], "cold": [], "warm": []}  # Brotli not ready yet
        bundles = [b for app in apps.values() for b in _big_bundles(app.url)]
        wait_until(lambda: _brotli_ready(bundles), 180, "the Brotli bundles")
        for _ in range(RUNS):
            for name, app in apps.items():
                driver = browser()  # a new profile: empty cache
                try:
                    pages[name]["cold"].append(load(driver, app.url))
                    pages[name]["warm"].append(load(driver, app.url, reload=True))
                finally:
                    driver.quit()
    rows = []
    for name, runs in pages.items():
        for kind, label in (("first", "cold, first load after start (quick compression)"),
                            ("cold", "cold (Brotli bundles)"), ("warm", "warm (reload)")):
            r = runs[kind]
            rows.append([name, label, f"{median([x[0] for x in r]):.0f}", f"{median([x[1] for x in r]) / 1e3:.0f}",
                         f"{median([x[2] for x in r]) / 1e3:.0f}", f"{median([x[3] for x in r]):.0f}",
                         f"{median([x[4] for x in r]) / 1e3:.0f}"])
    colds = [median([x[0] for x in runs["cold"]]) for runs in pages.values()]
    ratio = f": {colds[0] / colds[1]:.2f} cold" if len(colds) == 2 else ""
    print_table(f"First load in headless Chromium (medians of {RUNS}; target ≤ 450 kB until usable, "
                f"time to usable ≤ 0.8 × the previous page{ratio})", rows,
                ["page", "load", "ms until usable", "kB until usable", "kB first screen", "requests",
                 "kB after, when idle (Markdown bundle)"])


def _big_bundles(url):
    """The URLs of fac's and fmc's bundles (the two that take seconds to compress at Brotli's best level)."""
    page = requests.get(url, timeout=10).text
    layout = requests.get(url.rstrip("/") + "/_dash-layout", timeout=10).text  # chat-config names what chat.js loads
    paths = []
    for script, key in (("feffery_antd_components", "antdBundle"), ("feffery_markdown_components", "markdownBundle")):
        on_page = re.search(rf'src="([^"]*{script}[^"]*\.js)"', page)  # the previous page loads fac at once
        paths.append(on_page.group(1) if on_page else
                     json.loads('"' + re.search(rf'"{key}":\s*"([^"]+)"', layout).group(1) + '"'))
    return [url.rstrip("/") + path for path in paths]


def _brotli_ready(urls, expected={}):  # noqa: B006 - the cache of expected sizes is the point
    """True once these bundles come with the app's own best-level Brotli, not Flask-Compress's quick one.

    Flask-Compress answers `br` too (at a low level) until the background compression is done, so the header
    alone proves nothing: the body must be exactly as long as Brotli quality 11 makes it.
    """
    for bundle in urls:
        if bundle not in expected:
            raw = requests.get(bundle, headers={"Accept-Encoding": "identity"}, timeout=30).content
            expected[bundle] = len(brotli.compress(raw, quality=11))
        response = requests.get(bundle, headers={"Accept-Encoding": "br"}, timeout=30, stream=True)
        body = response.raw.read(decode_content=False)
        if response.headers.get("Content-Encoding") != "br" or len(body) != expected[bundle]:
            return False
    return True


if __name__ == "__main__":
    main()
