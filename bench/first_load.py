"""First load in headless Chromium: bytes transferred (compressed, headers included), requests, and the time
until the input box is on screen, cold (empty cache) and warm (a reload).

The baseline in the same run is the first page load after the workers start: the app's best-level Brotli
bundles are still being compressed in the background, so Flask-Compress's quick compression (zstd for
Chromium) serves everything. Then the same cold load once Brotli is ready, and a warm reload. Loopback, the
shipped gunicorn config, the scripted upstream as the backend.

fmc's bundle (Markdown) is not part of the first screen: chat.js fetches it once the page is idle. Its bytes
are counted in a column of their own.
"""

import json
import re

import brotli
import requests

from bench.common import median, print_table
from bench.wire_bytes import network_events, turn_bytes
from testkit.app import upstream_env
from testkit.browser import browser, wait_for_markdown
from testkit.gunicorn_app import GunicornApp
from testkit.upstream import ScriptedUpstream
from testkit.waiting import wait_until

RUNS = 5
DEFERRED = "feffery_markdown_components"  # fmc's bundle: loaded by chat.js after the first screen
# Navigation start → the message box exists and the app's config has reached chat.js (the page can chat).
READY = "return document.querySelector('#chat-input') && window.dash_clientside.chat.state.config ? performance.now() : null"


def load(driver, url, reload=False):
    """One page load: (ms until ready, bytes received for the first screen, requests, deferred bytes)."""
    network_events(driver)
    if reload:
        driver.refresh()
    else:
        driver.get(url)
    ready = wait_until(lambda: driver.execute_script(READY), 30, "the page")
    # Requests the first render starts (lazy component chunks) belong to the load too; so does the Markdown
    # bundle chat.js fetches once the page is idle, counted apart (the first screen does not wait for it).
    wait_for_markdown(driver)
    wait_until(lambda: driver.execute_script(
        "return performance.getEntriesByType('resource').every((e) => e.responseEnd > 0)"), 10, "requests")
    events = network_events(driver)
    deferred = {e["params"]["requestId"] for e in events if e["method"] == "Network.requestWillBeSent"
                and DEFERRED in e["params"]["request"]["url"]}
    _, received, _, requests = turn_bytes([e for e in events if e.get("params", {}).get("requestId") not in deferred])
    _, deferred_bytes, _, _ = turn_bytes([e for e in events if e.get("params", {}).get("requestId") in deferred])
    return ready, received, requests, deferred_bytes


def main():
    """Cold with quick compression (fresh workers), cold with Brotli ready, warm; medians of RUNS."""
    rows = []
    with ScriptedUpstream() as upstream, GunicornApp(upstream_env(upstream, WEB_CONCURRENCY="1")) as app:
        driver = browser()
        try:
            baseline = load(driver, app.url)  # the workers' first load: Brotli not ready yet
        finally:
            driver.quit()
        bundles = _big_bundles(app.url)
        wait_until(lambda: _brotli_ready(bundles), 120, "the Brotli bundles")
        cold, warm = [], []
        for _ in range(RUNS):
            driver = browser()  # a new profile: empty cache
            try:
                cold.append(load(driver, app.url))
                warm.append(load(driver, app.url, reload=True))
            finally:
                driver.quit()
    for name, runs in (("cold, first load after start (quick compression)", [baseline]), ("cold (Brotli bundles)", cold),
                       ("warm (reload)", warm)):
        rows.append([name, f"{median([r[0] for r in runs]):.0f}", f"{median([r[1] for r in runs]) / 1e6:.3f}",
                     f"{median([r[2] for r in runs]):.0f}", f"{median([r[3] for r in runs]) / 1e6:.3f}"])
    print_table(f"First load in headless Chromium (medians of {RUNS}; target ≤ 1.0 s cold, ≤ 1.5 MB)", rows,
                ["load", "ms until ready", "MB received (first screen)", "requests",
                 "MB received after, when idle (Markdown bundle)"])


def _big_bundles(url):
    """The URLs of fac's and fmc's bundles (the two that take seconds to compress at Brotli's best level)."""
    page = requests.get(url, timeout=10).text
    fac = re.search(r'src="([^"]*feffery_antd_components[^"]*\.js)"', page).group(1)
    layout = requests.get(url.rstrip("/") + "/_dash-layout", timeout=10).text  # chat-config names fmc's bundle
    fmc = json.loads('"' + re.search(r'"markdownBundle":\s*"([^"]+)"', layout).group(1) + '"')
    return [url.rstrip("/") + path for path in (fac, fmc)]


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
