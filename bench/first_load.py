"""First load in headless Chromium: bytes transferred (compressed, headers included), requests, and the time
until the input box is on screen, cold (empty cache) and warm (a reload).

The baseline in the same run is the first page load after the workers start: the Brotli bundles are still
being compressed in the background, so it gets gzip for everything. Then the same cold load once Brotli is
ready, and a warm reload. Loopback, the shipped gunicorn config, the scripted upstream as the backend.
"""

import re

import requests

from bench.common import median, print_table
from bench.wire_bytes import browser, network_events, turn_bytes
from tests.conftest import upstream_env
from tests.gunicorn_runner import GunicornApp
from tests.scripted_upstream import ScriptedUpstream
from tests.waiting import wait_until

RUNS = 5
# Navigation start → the message box exists and the app's config has reached chat.js (the page can chat).
READY = "return document.querySelector('#chat-input') && window.dash_clientside.chat.state.config ? performance.now() : null"


def load(driver, url, reload=False):
    """One page load: (ms until ready, bytes received, requests)."""
    network_events(driver)
    if reload:
        driver.refresh()
    else:
        driver.get(url)
    ready = wait_until(lambda: driver.execute_script(READY), 30, "the page")
    # Requests the first render starts (lazy component chunks) belong to the load too.
    wait_until(lambda: driver.execute_script(
        "return performance.getEntriesByType('resource').every((e) => e.responseEnd > 0)"), 10, "requests")
    _, received, _, requests = turn_bytes(network_events(driver))
    return ready, received, requests


def main():
    """Cold with gzip (fresh workers), cold with Brotli ready, warm; medians of RUNS."""
    rows = []
    with ScriptedUpstream() as upstream, GunicornApp(upstream_env(upstream, WEB_CONCURRENCY="1")) as app:
        driver = browser()
        try:
            baseline = load(driver, app.url)  # the workers' first load: Brotli not ready yet
        finally:
            driver.quit()
        wait_until(lambda: _brotli_ready(app.url), 120, "the Brotli bundles")
        cold, warm = [], []
        for _ in range(RUNS):
            driver = browser()  # a new profile: empty cache
            try:
                cold.append(load(driver, app.url))
                warm.append(load(driver, app.url, reload=True))
            finally:
                driver.quit()
    rows.append(["cold, first load after start (gzip)", f"{baseline[0]:.0f}", f"{baseline[1] / 1e6:.2f}", baseline[2]])
    for name, runs in (("cold (Brotli bundles)", cold), ("warm (reload)", warm)):
        rows.append([name, f"{median([r[0] for r in runs]):.0f}", f"{median([r[1] for r in runs]) / 1e6:.3f}",
                     f"{median([r[2] for r in runs]):.0f}"])
    print_table(f"First load in headless Chromium (medians of {RUNS}; target ≤ 1.0 s cold, ≤ 1.5 MB)", rows,
                ["load", "ms until ready", "MB received", "requests"])


def _brotli_ready(url):
    """True once the biggest bundle is served with Brotli (the background compression finished)."""
    page = requests.get(url, timeout=10).text
    bundle = re.search(r'src="([^"]*feffery_markdown_components[^"]*\.js)"', page).group(1)
    response = requests.get(url.rstrip("/") + bundle, headers={"Accept-Encoding": "br"}, timeout=30, stream=True)
    response.close()
    return response.headers.get("Content-Encoding") == "br"


if __name__ == "__main__":
    main()
