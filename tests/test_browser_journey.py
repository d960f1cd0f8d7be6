"""Browser tests (dash_duo, headless Debian chromium) of the chat journey a person goes through."""

import re
import threading
import time
from pathlib import Path

from flask import request
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from components import ids
from testkit.app import TEST_KEY, build_app, upstream_env
from testkit.browser import (ASSISTANT, PAGE_IDS, answer_text, answers, click, committed_history, start,
                             stored_conversations, toast, type_and_send, wait_for_answer, wait_for_markdown,
                             wait_until)
from testkit.strings import EN, ZH, ZH_ERRORS
from testkit.upstream import Script


def test_ask_multi_turn_stop_export_clear(dash_duo, upstream):
    start(dash_duo, upstream)
    # 1. Ask: the answer streams in and is rendered.
    upstream.script = Script(chunk_chars=3, delay=0.01)
    type_and_send(dash_duo, "What is Dash?")
    dash_duo.wait_for_text_to_equal(".chat-message[data-role='user']", "What is Dash?")
    first = wait_for_answer(dash_duo, 0)
    assert answer_text(first) == "Answer to: What is Dash? (saw 0 earlier messages)"
    assert dash_duo.find_element(f"#{ids.INPUT}").get_attribute("value") == ""

    # 2. Multi-turn is on by default: the model sees the first turn.
    type_and_send(dash_duo, "And Plotly?")
    assert answer_text(wait_for_answer(dash_duo, 1)) == "Answer to: And Plotly? (saw 2 earlier messages)"
    assert upstream.requests[-1]["body"]["messages"] == [
        {"role": "user", "content": "What is Dash?"},
        {"role": "assistant", "content": "Answer to: What is Dash? (saw 0 earlier messages)"},
        {"role": "user", "content": "And Plotly?"},
    ]

    # Off, each question stands alone (the original app's behaviour).
    dash_duo.find_element(f"#{ids.MULTI_TURN}").click()
    type_and_send(dash_duo, "Alone?")
    assert answer_text(wait_for_answer(dash_duo, 2)) == "Answer to: Alone? (saw 0 earlier messages)"
    assert len(upstream.requests[-1]["body"]["messages"]) == 1

    # 3. Stop mid-answer: the partial answer stays, marked, and the upstream request is closed.
    upstream.script = Script(reply="slow " * 2000, chunk_chars=5, delay=0.03)
    type_and_send(dash_duo, "Tell me a long story")
    streaming = wait_for_answer(dash_duo, 3, status="streaming")
    wait_until(dash_duo, lambda d: "slow slow" in streaming.text, message="no partial text streamed")
    assert dash_duo.find_element(f"#{ids.STOP}").is_displayed()
    dash_duo.find_element(f"#{ids.STOP}").click()
    clicked = time.monotonic()
    stopped = wait_for_answer(dash_duo, 3, status="done")
    closed = upstream.wait_for_close(timeout=5)
    assert closed is not None and closed - clicked < 1.0
    assert "slow slow" in stopped.text
    assert stopped.find_element(By.CSS_SELECTOR, ".chat-note").text in (ZH["stopped"], EN["stopped"])
    partial = committed_history(dash_duo)[-1]
    assert partial["status"] == "interrupted" and 0 < len(partial["content"]) < len("slow " * 2000)
    wait_until(dash_duo, lambda d: not dash_duo.find_element(f"#{ids.STOP}").is_displayed())

    # 4. Export: a .md download with each question and answer.
    dash_duo.find_element(f"#{ids.EXPORT_MARKDOWN}").click()
    download_dir = Path(dash_duo.download_path)
    wait_until(dash_duo, lambda d: list(download_dir.glob("chat-*.md")), message="no Markdown download")
    exported = next(download_dir.glob("chat-*.md")).read_text(encoding="utf-8")
    for text in ("What is Dash?", "Answer to: And Plotly? (saw 2 earlier messages)", "Tell me a long story",
                 f"## {ZH['question']} 4", ZH["stopped"]):
        assert text in exported

    # 5. Clear in one click.
    dash_duo.find_element(f"#{ids.CLEAR}").click()
    wait_until(dash_duo, lambda d: not d.find_elements(By.CSS_SELECTOR, ".chat-message"), message="not cleared")
    assert committed_history(dash_duo) == []
    assert TEST_KEY not in dash_duo.driver.page_source
    assert dash_duo.get_logs() == []


def test_burst_and_long_answer_arrive_complete_in_the_page(dash_duo, upstream):
    start(dash_duo, upstream)
    words = " ".join(f"w{i:05d}" for i in range(3500))  # 24,499 characters in 1-2 character chunks
    upstream.script = Script(reply=words, chunk_chars=2)
    type_and_send(dash_duo, "burst please")
    answer = wait_for_answer(dash_duo, 0)
    assert committed_history(dash_duo)[-1]["content"] == words
    assert answer_text(answer).startswith("w00000 w00001") and answer_text(answer).endswith("w03498 w03499")


def test_antd_and_markdown_bundles_are_left_out_of_the_first_screen_and_loaded_once_after_it(dash_duo, upstream):
    app = start(dash_duo, upstream)
    page = app.server.test_client().get("/").get_data(as_text=True)
    scripts = re.findall(r'<script src="([^"]+)"', page)
    assert any("dash_core_components" in src for src in scripts)
    for library in ("feffery_antd_components", "feffery_markdown_components"):
        assert not any(library in src for src in scripts)
        wait_until(dash_duo, lambda d, library=library: d.execute_script(
            "return [...document.scripts].map((s) => s.src).filter((src) => src.includes(arguments[0]))",
            library + "."), message=f"{library} never loaded")
        bundles = dash_duo.driver.execute_script(
            "return [...document.scripts].map((s) => s.src).filter((src) => src.includes(arguments[0]))", library + ".")
        assert len(bundles) == 1, bundles  # loaded once, by chat.js, after the first render

    # The bundle cannot load (a flaky network): answers stream in as plain text, complete, with no error.
    dash_duo.driver.execute_cdp_cmd("Network.enable", {})
    dash_duo.driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*feffery_markdown_components*"]})
    dash_duo.driver.refresh()
    dash_duo.wait_for_element(f"#{ids.INPUT}")
    upstream.script = Script(reply="**bold** and `code`", chunk_chars=3, delay=0.01)
    type_and_send(dash_duo, "Plain?")
    wait_for_answer(dash_duo, 0)
    # Looked up afresh (not through the answer's element): the message is redrawn when it finishes.
    dash_duo.wait_for_text_to_equal("#chat-md-1", "**bold** and `code`")
    assert not dash_duo.driver.find_elements(By.CSS_SELECTOR, f"{ASSISTANT} .chat-error, {ASSISTANT} .chat-markdown")
    assert not dash_duo.driver.execute_script("return !!window.feffery_markdown_components")

    # The network is back: the next question loads it again, and every answer on screen becomes Markdown.
    dash_duo.driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
    upstream.script = Script()
    type_and_send(dash_duo, "Formatted?")
    wait_for_answer(dash_duo, 1)
    wait_for_markdown(dash_duo.driver)
    wait_until(dash_duo, lambda d: len(d.find_elements(By.CSS_SELECTOR, f"{ASSISTANT} .chat-markdown")) == 2,
               message="answers not re-drawn as Markdown")
    assert answers(dash_duo)[0].find_element(By.CSS_SELECTOR, ".chat-markdown strong").text == "bold"
    assert answer_text(answers(dash_duo)[1]) == "Answer to: Formatted? (saw 2 earlier messages)"


def test_the_first_screen_asks_and_answers_before_antd_has_loaded(dash_duo, upstream):
    # The header, the list, the box, Send and the toasts need no feffery-antd-components (it loads after them):
    # with its bundle blocked, a question is still refused with a toast, then asked, answered and listed.
    dash_duo.driver.execute_cdp_cmd("Network.enable", {})
    dash_duo.driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*feffery_antd_components*"]})
    start(dash_duo, upstream)
    dash_duo.find_element(f"#{ids.SEND}").click()
    wait_until(dash_duo, lambda d: toast(d) == ZH["emptyQuestion"], message="no toast for an empty question")
    type_and_send(dash_duo, "no antd here")
    assert "no antd here" in answer_text(wait_for_answer(dash_duo, 0))  # the scripted upstream echoes
    wait_until(dash_duo, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".conv-item")) == 1, message="not listed")
    assert dash_duo.driver.execute_script("return window.feffery_antd_components === undefined")
    assert not dash_duo.driver.find_elements(By.CSS_SELECTOR, f"#{ids.OVERLAYS} *")  # nothing drawn with fac


def test_settings_clicked_before_antd_has_loaded_open_once_it_has(dash_duo, upstream):
    # The drawer is drawn once fac's bundle has loaded; a click on Settings before that is not lost.
    app = build_app(upstream_env(upstream))
    release = threading.Event()

    @app.server.before_request
    def slow_antd():
        """A slow network, for fac's bundle only."""
        if "feffery_antd_components" in request.path:
            release.wait(30)

    dash_duo.start_server(app)
    dash_duo.wait_for_element(f"#{ids.INPUT}")
    dash_duo.find_element(f"#{ids.SETTINGS_OPEN}").click()
    assert not dash_duo.driver.find_elements(By.CSS_SELECTOR, f"#{ids.MODEL}")
    release.set()
    wait_until(dash_duo, lambda d: d.find_element(By.CSS_SELECTOR, f"#{ids.MODEL}").is_displayed(),
               message="the drawer did not open once drawn")


def test_enter_shift_enter_ime_and_empty_input(dash_duo, upstream):
    start(dash_duo, upstream)
    box = dash_duo.find_element(f"#{ids.INPUT}")
    # Enter on an empty box sends nothing and says why.
    box.send_keys(Keys.ENTER)
    wait_until(dash_duo, lambda d: toast(d), message="no warning")
    # Shift+Enter is a newline.
    box.send_keys("line one")
    box.send_keys(Keys.SHIFT, Keys.ENTER)
    box.send_keys("line two")
    assert box.get_attribute("value") == "line one\nline two"
    # Enter while an input method is composing (picking Chinese characters) does not send. The key handler
    # is synchronous, so counting clicks on Send around the event is a complete check (no waiting needed).
    clicks = dash_duo.driver.execute_script(PAGE_IDS + """
        const send = document.getElementById(pageIds.SEND);
        let clicks = 0;
        const count = () => clicks++;
        send.addEventListener('click', count);
        arguments[0].dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', isComposing: true, bubbles: true}));
        arguments[0].dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', keyCode: 229, bubbles: true}));
        send.removeEventListener('click', count);
        return clicks;""", box)
    assert clicks == 0
    assert box.get_attribute("value") == "line one\nline two"
    box.send_keys(Keys.ENTER)
    wait_for_answer(dash_duo, 0)
    assert committed_history(dash_duo)[0]["content"] == "line one\nline two"
    assert [r["body"]["messages"][-1]["content"] for r in upstream.requests] == ["line one\nline two"]


def test_upstream_error_keeps_the_question_and_retry_reasks(dash_duo, upstream):
    start(dash_duo, upstream)
    upstream.script = Script(reply="partial answer that will be cut", chunk_chars=4, cut_after=3)
    type_and_send(dash_duo, "Will this fail?")
    failed = wait_for_answer(dash_duo, 0, status="error")
    assert "partial answ" in failed.text
    assert ZH_ERRORS["stream_interrupted"] in failed.find_element(By.CSS_SELECTOR, ".chat-error").text
    assert "Traceback" not in dash_duo.driver.page_source
    dash_duo.wait_for_text_to_equal(".chat-message[data-role='user']", "Will this fail?")
    upstream.script = Script()
    click(dash_duo, f"{ASSISTANT} .chat-retry")
    assert answer_text(wait_for_answer(dash_duo, 0)) == "Answer to: Will this fail? (saw 0 earlier messages)"
    assert len(dash_duo.driver.find_elements(By.CSS_SELECTOR, ".chat-message")) == 2


def test_access_code_is_asked_once_and_remembered(dash_duo, upstream):
    start(dash_duo, upstream, ACCESS_CODE="open-sesame")
    code_box = f"#{ids.ACCESS_CODE_INPUT}"
    dash_duo.wait_for_element(code_box)  # the page asks for the code on first visit
    dash_duo.find_element(code_box).send_keys("open-sesame")
    dash_duo.find_element(".ant-modal-footer .ant-btn-primary").click()
    wait_until(dash_duo, lambda d: not d.find_elements(By.CSS_SELECTOR, code_box)
               or not d.find_element(By.CSS_SELECTOR, code_box).is_displayed(), message="dialog stayed")
    type_and_send(dash_duo, "Am I in?")
    assert answer_text(wait_for_answer(dash_duo, 0)) == "Answer to: Am I in? (saw 0 earlier messages)"
    assert upstream.requests[-1]["headers"]["authorization"] == f"Bearer {TEST_KEY}"  # the server's key upstream
    # Remembered: a reload does not ask again.
    dash_duo.driver.refresh()
    dash_duo.wait_for_element(f"#{ids.INPUT}")
    type_and_send(dash_duo, "Still in?")
    assert answer_text(wait_for_answer(dash_duo, 1)) == "Answer to: Still in? (saw 2 earlier messages)"
    assert not [e for e in dash_duo.driver.find_elements(By.CSS_SELECTOR, code_box) if e.is_displayed()]


# Runs before the page's scripts: whether fac and fmc had run when the answer showed its text from before the
# reload again (%d: its length).
BUNDLES_WHEN_BACK = PAGE_IDS + """
window.bundlesWhenBack = null;
new MutationObserver(() => {
  const answer = document.getElementById(pageIds.ANSWER_PREFIX + 3);
  if (window.bundlesWhenBack === null && answer && answer.textContent.length >= %d) {
    window.bundlesWhenBack = [!!window.feffery_antd_components, !!window.feffery_markdown_components];
  }
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


# What the page loaded: each resource's path and the bytes it transferred (0 when the browser's cache had it).
RELOADED = "return performance.getEntriesByType('resource').map((e) => [new URL(e.name).pathname, e.transferSize])"


def test_conversation_and_its_answer_survive_a_reload(dash_duo, upstream):
    start(dash_duo, upstream)
    type_and_send(dash_duo, "Remember me")
    assert answer_text(wait_for_answer(dash_duo, 0)) == "Answer to: Remember me (saw 0 earlier messages)"
    dash_duo.driver.refresh()
    assert answer_text(wait_for_answer(dash_duo, 0)) == "Answer to: Remember me (saw 0 earlier messages)"
    dash_duo.wait_for_text_to_equal(".chat-message[data-role='user']", "Remember me")
    # The reload asked once for the layout and the callbacks (the renderer took the preloaded answers) and took
    # the fingerprinted assets from the browser's cache (nothing transferred).
    loaded = dash_duo.driver.execute_script(RELOADED)
    assert sorted(path for path, _ in loaded if path.endswith(("/_dash-layout", "/_dash-dependencies"))) == [
        "/_dash-dependencies", "/_dash-layout"], loaded
    assets = [(path, size) for path, size in loaded if "/assets/" in path]
    assert any(path.endswith("/chat.js") for path, _ in assets) and all(size == 0 for _, size in assets), assets

    # Reload while an answer streams: the server goes on writing it, and the page picks it up where it is.
    reply = " ".join(f"slow{i}" for i in range(300))
    upstream.script = Script(reply=reply, chunk_chars=5, delay=0.02)
    type_and_send(dash_duo, "A long one")
    streaming = wait_for_answer(dash_duo, 1, status="streaming")
    wait_until(dash_duo, lambda d: "slow3" in streaming.text, message="no partial text streamed")
    shown = dash_duo.driver.execute_script(f"return document.getElementById('{ids.answer(3)}').textContent.length")
    dash_duo.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": BUNDLES_WHEN_BACK % shown})
    dash_duo.driver.refresh()
    wait_for_answer(dash_duo, 1, status="streaming")
    assert answer_text(wait_for_answer(dash_duo, 1)) == reply
    # The text it had was back on screen before the deferred bundles ran: running them holds the page for a while.
    assert dash_duo.driver.execute_script("return window.bundlesWhenBack") == [False, False]
    assert len(upstream.requests) == 2  # one generation, read by two page loads
    assert [m["content"] for m in stored_conversations(dash_duo)[0]["messages"]][-1] == reply

    # Clear deletes the stored conversation too.
    dash_duo.find_element(f"#{ids.CLEAR}").click()
    wait_until(dash_duo, lambda d: stored_conversations(dash_duo) == [], message="still stored")
    dash_duo.driver.refresh()
    dash_duo.wait_for_element(f"#{ids.INPUT}")
    assert dash_duo.driver.find_elements(By.CSS_SELECTOR, ".chat-message") == []


SEED_OLD_BROWSER_COPY = """
const done = arguments[arguments.length - 1];
localStorage.removeItem('chat-moved-to-server');
const request = indexedDB.open('chat-app', 1);
request.onupgradeneeded = () => request.result.createObjectStore('conversations', {keyPath: 'id'});
request.onsuccess = () => {
  const tx = request.result.transaction('conversations', 'readwrite');
  tx.objectStore('conversations').put(arguments[0]);
  tx.oncomplete = () => { request.result.close(); done(true); };
};
"""
OLD_DATABASES = """
const done = arguments[arguments.length - 1];
indexedDB.databases().then((dbs) => done(dbs.map((d) => d.name)));
"""


def test_conversations_kept_in_this_browser_by_an_older_version_move_to_the_server(dash_duo, upstream):
    start(dash_duo, upstream)
    old = {"id": "c-old", "title": "从浏览器来的", "createdAt": 1700000000000, "updatedAt": 1700000001000,
           "messages": [{"role": "user", "content": "旧问题"},
                        {"role": "assistant", "content": "旧回答 **粗体**", "status": "done", "model": "m"},
                        {"role": "user", "content": "cut"},
                        {"role": "assistant", "content": "half", "status": "streaming"}]}
    assert dash_duo.driver.execute_async_script(SEED_OLD_BROWSER_COPY, old)
    dash_duo.driver.refresh()
    wait_until(dash_duo, lambda d: [c["title"] for c in stored_conversations(dash_duo)] == ["从浏览器来的"],
               message="the browser's conversation never reached the server")
    moved = stored_conversations(dash_duo)[0]["messages"]
    assert [(m["role"], m["content"], m["status"]) for m in moved] == [
        ("user", "旧问题", "done"), ("assistant", "旧回答 **粗体**", "done"), ("user", "cut", "done"),
        ("assistant", "half", "interrupted")]
    dash_duo.wait_for_text_to_equal(f"#{ids.LIST} .conv-item-title", "从浏览器来的")
    wait_until(dash_duo, lambda d: "chat-app" not in d.execute_async_script(OLD_DATABASES),
               message="the browser copy was kept")
    # Once only: another load imports nothing again.
    dash_duo.driver.refresh()
    dash_duo.wait_for_element(f"#{ids.INPUT}")
    click(dash_duo, ".conv-item")
    assert answer_text(wait_for_answer(dash_duo, 0)) == "旧回答 粗体"
    assert len(stored_conversations(dash_duo)) == 1


def test_without_browser_storage_everything_still_works(dash_duo, upstream):
    # Private mode: no IndexedDB and no localStorage. The server keeps the conversations, so nothing is lost.
    dash_duo.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": (
        "IDBFactory.prototype.open = () => { throw new DOMException('private mode', 'SecurityError'); };"
        "Storage.prototype.setItem = () => { throw new DOMException('private mode', 'QuotaExceededError'); };"
        "Storage.prototype.getItem = () => { throw new DOMException('private mode', 'SecurityError'); };")})
    start(dash_duo, upstream)
    type_and_send(dash_duo, "Still works?")
    assert answer_text(wait_for_answer(dash_duo, 0)) == "Answer to: Still works? (saw 0 earlier messages)"
    dash_duo.find_element(f"#{ids.NEW_CHAT}").click()
    wait_until(dash_duo, lambda d: not d.find_elements(By.CSS_SELECTOR, ".chat-message"), message="no new chat")
    type_and_send(dash_duo, "A second one")
    wait_for_answer(dash_duo, 0)
    wait_until(dash_duo, lambda d: len(d.find_elements(By.CSS_SELECTOR, f"#{ids.LIST} .conv-item")) == 2,
               message="the list does not show both")
    dash_duo.driver.refresh()
    wait_until(dash_duo, lambda d: len(d.find_elements(By.CSS_SELECTOR, f"#{ids.LIST} .conv-item")) == 2,
               message="lost on reload")
