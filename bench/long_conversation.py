"""Long conversations in a real browser: open, append a turn, and input latency per keystroke, for a
1,000-message conversation next to a 2-message one measured in the same run (the baseline).

Headless Chromium against the app under gunicorn (AUTH=none) with the scripted upstream (instant answers).
Conversations live in the server's store: each run imports a fresh one through `POST /api/import` (fetch from
the page, so it is the browser's own user), newest so the page opens on it, then the page is loaded and timed
from navigation start:
- open: until the last message shows text (the page draws the last 64 messages; older ones on scroll);
- append: from the Enter keydown until the new question is in the DOM, and until its answer is drawn done
  (the server asks the upstream, chat.js follows the stream, the callbacks draw the finished answer);
- keystroke: from each keydown until the frame after it was handled (rAF, then a task after the paint).
"""

import os

from selenium.webdriver.common.keys import Keys

from bench.common import median, percentile, print_table
from components import ids
from testkit.app import upstream_env
from testkit.browser import PAGE_IDS, browser
from testkit.gunicorn_app import GunicornApp
from testkit.upstream import Script, ScriptedUpstream
from testkit.waiting import wait_until

SIZES = (2, 1000)
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
KEYS = "typing into a long conversation"
ANSWER = "Here is an answer with **bold**, a list:\n\n- one\n- two\n\nand `code`. " * 3

SEED = """
const [size, answer, done] = arguments;
const messages = [];
for (let i = 0; i < size / 2; i++) {
  messages.push({role: 'user', content: `question ${i}`, status: 'done'},
                {role: 'assistant', content: answer, status: 'done'});
}
const now = Date.now();
const conversation = {id: `bench-${size}-${now}-${Math.random()}`, title: `bench ${size}`, createdAt: now,
                      updatedAt: now, messages};
fetch('/api/import', {method: 'POST', headers: {'Content-Type': 'application/json'},
  body: JSON.stringify({format: 'chat-app-conversations', version: 1, conversations: [conversation]})})
  .then((r) => r.json()).then(done, (e) => done({error: String(e)}));
"""
# Installed before the page's own scripts: notes when the last message first shows text (plain or Markdown).
WATCH_OPEN = PAGE_IDS + """
window.__openedAt = null;
const watch = () => new MutationObserver((_, observer) => {
  const last = document.getElementById(pageIds.MESSAGE_PREFIX + window.__benchLast);
  if (last && last.textContent.trim()) { window.__openedAt = performance.now(); observer.disconnect(); }
}).observe(document.body, {subtree: true, childList: true, characterData: true});
document.readyState === 'loading' ? document.addEventListener('DOMContentLoaded', watch) : watch();
"""
WATCH_INPUT = PAGE_IDS + """
window.__keys = []; window.__appendedAt = null; window.__answeredAt = null; window.__enterAt = null;
document.addEventListener('keydown', (e) => {
  const started = e.timeStamp;
  if (e.key === 'Enter') { window.__enterAt = started; return; }
  requestAnimationFrame(() => setTimeout(() => window.__keys.push(performance.now() - started), 0));
}, true);
const next = arguments[0];
new MutationObserver((_, observer) => {
  if (window.__appendedAt === null && document.getElementById(pageIds.MESSAGE_PREFIX + next)) {
    window.__appendedAt = performance.now();
  }
  const answer = document.getElementById(pageIds.MESSAGE_PREFIX + (next + 1));
  if (answer && answer.dataset.status === 'done' && answer.textContent.trim()) {
    window.__answeredAt = performance.now(); observer.disconnect();
  }
}).observe(document.getElementById(pageIds.MESSAGES), {childList: true, subtree: true, attributes: true,
                                                      characterData: true});
"""


def measure(driver, url, size):
    """One run for a conversation of `size` messages: (open ms, question ms, answer ms, keystroke latencies ms)."""
    driver.get(url)
    wait_until(lambda: driver.find_elements("css selector", f"#{ids.INPUT}"), 30, "the page")
    result = driver.execute_async_script(SEED, size, ANSWER)
    assert result.get("imported") == 1, result
    script = driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                                    {"source": f"window.__benchLast = {size - 1};" + WATCH_OPEN})
    driver.get(url)  # the page opens on the newest conversation: the one just imported
    opened = wait_until(lambda: driver.execute_script("return window.__openedAt"), 60, "the conversation")
    driver.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]})
    driver.execute_script(WATCH_INPUT, size)
    box = driver.find_element("css selector", f"#{ids.INPUT}")
    for key in KEYS:
        box.send_keys(key)
    wait_until(lambda: driver.execute_script("return window.__keys.length") == len(KEYS), 30, "keystrokes")
    box.send_keys(Keys.ENTER)
    appended = wait_until(lambda: driver.execute_script(
        "return window.__appendedAt && window.__appendedAt - window.__enterAt"), 30, "the new question")
    answered = wait_until(lambda: driver.execute_script(
        "return window.__answeredAt && window.__answeredAt - window.__enterAt"), 30, "the answer")
    return opened, appended, answered, driver.execute_script("return window.__keys")


def main():
    """Measure both sizes RUNS times, interleaved; print medians and the ratio to the baseline."""
    results = {size: {"open": [], "append": [], "answer": [], "keys": []} for size in SIZES}
    with ScriptedUpstream() as upstream, GunicornApp(upstream_env(upstream, AUTH="none")) as app:
        upstream.script = Script(reply="A short answer.", chunk_chars=4)
        driver = browser()
        try:
            for _ in range(RUNS):
                for size in SIZES:
                    opened, appended, answered, keys = measure(driver, app.url, size)
                    results[size]["open"].append(opened)
                    results[size]["append"].append(appended)
                    results[size]["answer"].append(answered)
                    results[size]["keys"] += keys
        finally:
            driver.quit()
    base, big = results[SIZES[0]], results[SIZES[-1]]
    rows = []
    for label, key, target in (("open (navigation → last message shown)", "open", "< 1500"),
                               ("append: Enter → the question in the DOM", "append", "< 100"),
                               ("append: Enter → its answer drawn done", "answer", "< 100")):
        rows.append([label, f"{median(base[key]):.0f}", f"{median(big[key]):.0f}",
                     f"{median(big[key]) / median(base[key]):.2f}", target])
    rows.append(["keystroke (keydown → next frame), median / p95",
                 f"{median(base['keys']):.1f} / {percentile(base['keys'], 95):.1f}",
                 f"{median(big['keys']):.1f} / {percentile(big['keys'], 95):.1f}",
                 f"{median(big['keys']) / median(base['keys']):.2f}", "< 16"])
    print_table(f"Long conversation in headless Chromium (ms, medians of {RUNS} runs)", rows,
                ["what", f"{SIZES[0]} messages (baseline)", f"{SIZES[-1]} messages", "ratio", "target"])


if __name__ == "__main__":
    main()
