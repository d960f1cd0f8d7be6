"""Long conversations in a real browser: open, append a turn, and input latency per keystroke, for a
1,000-message conversation next to a 2-message one measured in the same run (the baseline).

Headless Chromium against the app under gunicorn with the scripted upstream. The conversation is written
into the page's IndexedDB, then the page is loaded and timed from navigation start:
- open: until the last message's Markdown is on screen;
- append: from the Enter keydown until the new question and its answer placeholder are in the DOM;
- keystroke: from each keydown until the frame after it was handled (rAF, then a task after the paint).
"""

from selenium.webdriver.common.keys import Keys

from bench.common import median, percentile, print_table
from testkit.app import upstream_env
from testkit.browser import browser
from testkit.gunicorn_app import GunicornApp
from testkit.upstream import Script, ScriptedUpstream
from testkit.waiting import wait_until

SIZES = (2, 1000)
RUNS = 5
KEYS = "typing into a long conversation"
ANSWER = "Here is an answer with **bold**, a list:\n\n- one\n- two\n\nand `code`. " * 3

SEED = """
const [size, answer, done] = arguments;
const messages = [];
for (let i = 0; i < size / 2; i++) {
  messages.push({role: 'user', content: `question ${i}`}, {role: 'assistant', content: answer, status: 'done'});
}
window.chatStore.put({id: 'c-bench', title: 'bench', createdAt: 1, updatedAt: 2, messages})
  .then(() => { localStorage.setItem('chat-current-conversation', 'c-bench'); done(); });
"""
# Installed before the page's own scripts: notes when the last message's Markdown first shows text.
WATCH_OPEN = """
window.__openedAt = null;
const watch = () => new MutationObserver((_, observer) => {
  const last = document.getElementById('chat-msg-' + window.__benchLast);
  if (last && last.textContent.trim()) { window.__openedAt = performance.now(); observer.disconnect(); }
}).observe(document.body, {subtree: true, childList: true, characterData: true});
document.readyState === 'loading' ? document.addEventListener('DOMContentLoaded', watch) : watch();
"""
WATCH_INPUT = """
window.__keys = []; window.__appendedAt = null; window.__enterAt = null;
document.addEventListener('keydown', (e) => {
  const started = e.timeStamp;
  if (e.key === 'Enter') { window.__enterAt = started; return; }
  requestAnimationFrame(() => setTimeout(() => window.__keys.push(performance.now() - started), 0));
}, true);
const next = arguments[0];
new MutationObserver((_, observer) => {
  if (document.getElementById('chat-msg-' + (next + 1))) {
    window.__appendedAt = performance.now(); observer.disconnect();
  }
}).observe(document.getElementById('chat-messages'), {childList: true, subtree: true});
"""


def measure(driver, url, size):
    """One run for a conversation of `size` messages: (open ms, append ms, keystroke latencies ms)."""
    driver.get(url)
    wait_until(lambda: driver.find_elements("css selector", "#chat-input"), 30, "the page")
    driver.execute_script("indexedDB.deleteDatabase('chat-app')")
    driver.refresh()
    wait_until(lambda: driver.execute_script("return !!window.chatStore"), 30, "chat_store.js")
    driver.execute_async_script(SEED, size, ANSWER)
    script = driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                                    {"source": f"window.__benchLast = {size - 1};" + WATCH_OPEN})
    driver.refresh()
    opened = wait_until(lambda: driver.execute_script("return window.__openedAt"), 60, "the conversation")
    driver.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]})
    driver.execute_script(WATCH_INPUT, size)
    box = driver.find_element("css selector", "#chat-input")
    for key in KEYS:
        box.send_keys(key)
    wait_until(lambda: driver.execute_script("return window.__keys.length") == len(KEYS), 30, "keystrokes")
    box.send_keys(Keys.ENTER)
    appended = wait_until(lambda: driver.execute_script(
        "return window.__appendedAt && window.__appendedAt - window.__enterAt"), 30, "the new turn")
    wait_until(lambda: driver.execute_script(
        f"const m = document.getElementById('chat-msg-{size + 1}'); return m && m.dataset.status === 'done'"),
        30, "the answer")
    return opened, appended, driver.execute_script("return window.__keys")


def main():
    """Measure both sizes RUNS times, interleaved; print medians and the ratio to the baseline."""
    results = {size: {"open": [], "append": [], "keys": []} for size in SIZES}
    with ScriptedUpstream() as upstream, GunicornApp(upstream_env(upstream)) as app:
        upstream.script = Script(reply="A short answer.", chunk_chars=4)
        driver = browser()
        try:
            for _ in range(RUNS):
                for size in SIZES:
                    opened, appended, keys = measure(driver, app.url, size)
                    results[size]["open"].append(opened)
                    results[size]["append"].append(appended)
                    results[size]["keys"] += keys
        finally:
            driver.quit()
    base, big = results[SIZES[0]], results[SIZES[-1]]
    rows = []
    for label, key, target in (("open (navigation → last message shown)", "open", "< 1500"),
                               ("append a turn (Enter → question + placeholder in DOM)", "append", "< 100")):
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
