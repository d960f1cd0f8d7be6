"""Resume after a reload: how long after a page reload an answer that was streaming is back on screen.

Real headless Chromium against the app under gunicorn (the shipped config). A question is asked, the answer streams
for a while, the page is reloaded; a MutationObserver installed before the new page's scripts notes when the input
box exists (the baseline, in the same load: the page is usable) and when the answer shows at least the text it
showed before the reload (it came back from the store and the generation's log, and goes on streaming).

    python -m bench resume                        # loopback
    BENCH_LATENCY_MS=200 python -m bench resume   # a far server, or a phone's network: 200 ms per request
"""

import os

from bench.common import median, percentile, print_table
from components import ids
from testkit.app import upstream_env
from testkit.browser import PAGE_IDS, ask_in_page, browser
from testkit.gunicorn_app import GunicornApp
from testkit.upstream import Script, ScriptedUpstream
from testkit.waiting import wait_until

RUNS = 20
# A network between the browser and the server (Chromium's emulation: each request's answer comes this much later);
# loopback's is ~0.
LATENCY_MS = float(os.environ.get("BENCH_LATENCY_MS", "0"))
# Runs in every new document before its own scripts: times (ms since navigation start) of usable and resumed.
WATCH = PAGE_IDS + """
window.__usable = null; window.__resumed = null;
const wanted = Number(sessionStorage.getItem('resume-chars') || 0);
new MutationObserver(() => {
  const now = performance.now();
  if (window.__usable === null && document.getElementById(pageIds.INPUT)) window.__usable = now;
  const answers = document.querySelectorAll(`.chat-message[data-role='assistant'] [id^=${pageIds.ANSWER_PREFIX}]`);
  const last = answers[answers.length - 1];
  if (window.__resumed === null && wanted && last && last.textContent.length >= wanted) window.__resumed = now;
}).observe(document, {subtree: true, childList: true, characterData: true});
"""
BOTH_TIMES = "return window.__resumed !== null && window.__usable !== null && [window.__usable, window.__resumed]"


def main():
    """Reload mid-answer RUNS times; print when the page is usable and when the answer is back (median, p90)."""
    usable, resumed = [], []
    reply = " ".join(f"word{i}" for i in range(600))
    with ScriptedUpstream() as upstream, GunicornApp(upstream_env(upstream)) as app:
        upstream.script = Script(reply=reply, chunk_chars=5, delay=0.02)
        driver = browser()
        try:
            driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH})
            if LATENCY_MS:
                driver.execute_cdp_cmd("Network.enable", {})
                driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
                    "offline": False, "latency": LATENCY_MS, "downloadThroughput": -1, "uploadThroughput": -1})
            driver.get(app.url)
            wait_until(lambda: driver.find_elements("css selector", f"#{ids.INPUT}"), 30, "the page")
            for run in range(RUNS):
                shown = ask_in_page(driver, f"question {run}", run + 1, 200)
                driver.execute_script("sessionStorage.setItem('resume-chars', arguments[0])", shown)
                driver.refresh()
                times = wait_until(lambda: driver.execute_script(BOTH_TIMES), 30, "the answer back")
                usable.append(times[0])
                resumed.append(times[1])
                driver.execute_script("sessionStorage.removeItem('resume-chars')")
                driver.execute_script(f"document.getElementById('{ids.STOP}').click()")  # the next run starts quiet
                wait_until(lambda: driver.execute_script(
                    "return document.querySelector(\".chat-message[data-role='assistant']:last-child\")"
                    ".dataset.status === 'done'"), 30, "stop")
        finally:
            driver.quit()
    rows = [["page usable (baseline, same load)", f"{median(usable):.0f}", f"{percentile(usable, 90):.0f}"],
            ["answer back on screen", f"{median(resumed):.0f}", f"{percentile(resumed, 90):.0f}"],
            ["answer back − usable", f"{median([r - u for r, u in zip(resumed, usable)]):.0f}",
             f"{percentile([r - u for r, u in zip(resumed, usable)], 90):.0f}"]]
    network = f", {LATENCY_MS:.0f} ms network latency" if LATENCY_MS else ""
    print_table(f"Reload mid-answer in headless Chromium ({RUNS} reloads{network}, ms after navigation start)", rows,
                ["", "median", "p90"])


if __name__ == "__main__":
    main()
