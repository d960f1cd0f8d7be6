"""First token visible: how long after the upstream sends an answer's first token it shows in the page (and how
long after Enter the question is drawn).

Real headless Chromium against the app under gunicorn; the scripted upstream notes (wall clock) when it
writes the first content chunk, and a MutationObserver in the page notes when the answer first shows
text. Both clocks are this machine's, so the difference is the whole path: app → SSE → fetch reader →
set_props → React → FefferyMarkdown. Answers start 300 ms after the request, as a model's would.
"""

from selenium.webdriver.common.keys import Keys

from bench.common import median, percentile, print_table
from components import ids
from testkit.app import upstream_env
from testkit.browser import PAGE_IDS, browser, wait_for_markdown
from testkit.gunicorn_app import GunicornApp
from testkit.upstream import Script, ScriptedUpstream
from testkit.waiting import wait_until

RUNS = 20
WATCH = PAGE_IDS + """
window.__firstVisible = null;
window.__entered = null;
window.__questionVisible = null;
const answers = document.querySelectorAll(".chat-message[data-role='assistant']").length;
const questions = document.querySelectorAll(".chat-message[data-role='user']").length;
const now = () => performance.timeOrigin + performance.now();
document.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && window.__entered === null) window.__entered = now();
}, true);
new MutationObserver((_, observer) => {
  if (window.__questionVisible === null
      && document.querySelectorAll(".chat-message[data-role='user']").length > questions) {
    window.__questionVisible = now();
  }
  const all = document.querySelectorAll(".chat-message[data-role='assistant'] .chat-markdown");
  const mine = all[answers];
  if (mine && mine.textContent.trim()) {
    window.__firstVisible = now();
    observer.disconnect();
  }
}).observe(document.getElementById(pageIds.MESSAGES), {subtree: true, childList: true, characterData: true});
"""


def main():
    """Ask RUNS questions; print the median and p99 delay from first token sent to first token visible, and from
    Enter to the question drawn."""
    delays, drawn = [], []
    with ScriptedUpstream() as upstream, GunicornApp(upstream_env(upstream)) as app:
        upstream.script = Script(reply="Streaming answers should appear at once. " * 3, chunk_chars=4, delay=0.02,
                                 first_delay=0.3)
        driver = browser()
        try:
            driver.get(app.url)
            wait_until(lambda: driver.find_elements("css selector", f"#{ids.INPUT}"), 30, "the page")
            wait_for_markdown(driver)  # measure answers drawn as Markdown
            for run in range(RUNS):
                driver.execute_script(WATCH)
                box = driver.find_element("css selector", f"#{ids.INPUT}")
                box.send_keys(f"question {run}")
                box.send_keys(Keys.ENTER)
                visible = wait_until(lambda: driver.execute_script("return window.__firstVisible"), 30, "text")
                wait_until(lambda: driver.execute_script(
                    "const a = document.querySelectorAll(\".chat-message[data-role='assistant']\");"
                    f" return a.length === {run + 1} && a[{run}].dataset.status === 'done'"), 30, "the answer")
                delays.append(visible - upstream.requests[-1]["first_content_at"] * 1000)
                drawn.append(driver.execute_script("return window.__questionVisible - window.__entered"))
        finally:
            driver.quit()
    print_table(f"First token visible in headless Chromium after the upstream sent it ({RUNS} answers, ms)",
                [["upstream sends → page shows", f"{median(delays):.0f}", f"{percentile(delays, 99):.0f}"],
                 ["Enter → question drawn", f"{median(drawn):.0f}", f"{percentile(drawn, 99):.0f}"]],
                ["path", "median", "p99"])


if __name__ == "__main__":
    main()
