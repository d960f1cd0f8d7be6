"""Browser tests of the everyday experience: several conversations, export/import, per-message actions,
settings, language, dark mode, a phone-sized screen and a long conversation."""

import json
import re
from pathlib import Path

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from chatcore.strings import LANGUAGE_NAMES
from components import ids
from testkit.browser import (PAGE_IDS, Fresh, answer_text, click, close_settings, committed_history, open_settings,
                             start, stored_conversations, toast, type_and_send, wait_for_answer, wait_until)
from testkit.strings import EN, ZH, ZH_ERRORS, ZH_PRESETS, template_regex
from testkit.upstream import Script

USER = ".chat-message[data-role='user']"


def list_titles(dash_duo):
    """The titles in the conversation list, top first."""
    return [e.text for e in dash_duo.driver.find_elements(By.CSS_SELECTOR, f"#{ids.LIST} .conv-item-title")]


def list_item(dash_duo, title):
    """The list entry with this title (found again on each use: the list is redrawn as it changes)."""
    return Fresh(lambda: next(e for e in dash_duo.driver.find_elements(By.CSS_SELECTOR, f"#{ids.LIST} .conv-item")
                              if e.find_element(By.CSS_SELECTOR, ".conv-item-title").text == title))


def hover_and_click(dash_duo, element, selector):
    """Hover an element (its actions appear) and click one of them, as a mouse user does."""
    def hover_and_click_now():
        """Both steps on the element as it is now."""
        now = element.now() if isinstance(element, Fresh) else element
        ActionChains(dash_duo.driver).move_to_element(now).perform()
        now.find_element(By.CSS_SELECTOR, selector).click()
        return True

    wait_until(dash_duo, lambda d: hover_and_click_now(), message=f"could not click {selector}")


def confirm_dialog(dash_duo, ok=True):
    """Click OK (or Cancel) in the dialog that is open."""
    buttons = ".ant-modal-footer .ant-btn-primary" if ok else ".ant-modal-footer .ant-btn:not(.ant-btn-primary)"
    wait_until(dash_duo, lambda d: [b for b in d.find_elements(By.CSS_SELECTOR, buttons) if b.is_displayed()],
               message="no dialog")
    next(b for b in dash_duo.driver.find_elements(By.CSS_SELECTOR, buttons) if b.is_displayed()).click()
    wait_until(dash_duo, lambda d: not [b for b in d.find_elements(By.CSS_SELECTOR, buttons) if b.is_displayed()],
               message="dialog stayed open")


def questions(dash_duo):
    """The texts of the questions on screen."""
    # One script call: the list can be redrawn between two WebDriver calls.
    return dash_duo.driver.execute_script(
        f"return [...document.querySelectorAll(\"{USER} .chat-text\")].map((e) => e.textContent)")


def ask(dash_duo, text, index):
    """Ask and wait for answer `index` to finish; returns its text."""
    type_and_send(dash_duo, text)
    return answer_text(wait_for_answer(dash_duo, index))


def test_several_conversations_switch_rename_search_delete_and_survive_reload(dash_duo, upstream):
    start(dash_duo, upstream)
    assert dash_duo.find_element(f"#{ids.LIST}").text == ZH["noConversations"]
    ask(dash_duo, "First topic: apples", 0)
    wait_until(dash_duo, lambda d: list_titles(dash_duo) == ["First topic: apples"], message="auto title")
    assert dash_duo.find_element(f"#{ids.TITLE}").text == "First topic: apples"

    dash_duo.find_element(f"#{ids.NEW_CHAT}").click()
    wait_until(dash_duo, lambda d: not d.find_elements(By.CSS_SELECTOR, ".chat-message"), message="new chat not empty")
    assert ask(dash_duo, "Second topic: bananas", 0) == "Answer to: Second topic: bananas (saw 0 earlier messages)"
    wait_until(dash_duo, lambda d: list_titles(dash_duo) == ["Second topic: bananas", "First topic: apples"])

    # Switch back: the first conversation is on screen and a follow-up sees its own history only.
    list_item(dash_duo, "First topic: apples").click()
    wait_until(dash_duo, lambda d: questions(dash_duo) == ["First topic: apples"], message="did not switch")
    assert ask(dash_duo, "More apples", 1) == "Answer to: More apples (saw 2 earlier messages)"

    # A reload keeps both conversations and shows the one that was open.
    dash_duo.driver.refresh()
    wait_until(dash_duo, lambda d: questions(dash_duo) == ["First topic: apples", "More apples"], message="lost")
    wait_until(dash_duo, lambda d: sorted(list_titles(dash_duo)) == ["First topic: apples", "Second topic: bananas"])

    # Rename.
    hover_and_click(dash_duo, list_item(dash_duo, "Second topic: bananas"), ".conv-rename")
    box = dash_duo.find_element(f"#{ids.RENAME_INPUT}")
    wait_until(dash_duo, lambda d: box.is_displayed() and box.get_attribute("value") == "Second topic: bananas")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys("香蕉 notes")
    confirm_dialog(dash_duo)
    wait_until(dash_duo, lambda d: "香蕉 notes" in list_titles(dash_duo), message="not renamed")

    # Search by title and by message text.
    search = dash_duo.find_element(f"#{ids.SEARCH}")
    search.send_keys("MORE APPLES")
    wait_until(dash_duo, lambda d: list_titles(dash_duo) == ["First topic: apples"], message="search by text")
    search.send_keys(Keys.CONTROL, "a")
    search.send_keys("zzz")
    wait_until(dash_duo, lambda d: dash_duo.find_element(f"#{ids.LIST}").text == ZH["noMatches"])
    search.send_keys(Keys.CONTROL, "a")
    search.send_keys(Keys.BACKSPACE)
    wait_until(dash_duo, lambda d: len(list_titles(dash_duo)) == 2, message="search not cleared")

    # Delete asks first; Cancel keeps it, OK removes it from the list and from storage.
    hover_and_click(dash_duo, list_item(dash_duo, "香蕉 notes"), ".conv-delete")
    wait_until(dash_duo, lambda d: "香蕉 notes" in d.find_element(By.CSS_SELECTOR, f"#{ids.DELETE_TEXT}").text)
    confirm_dialog(dash_duo, ok=False)
    assert len(list_titles(dash_duo)) == 2
    hover_and_click(dash_duo, list_item(dash_duo, "香蕉 notes"), ".conv-delete")
    confirm_dialog(dash_duo)
    wait_until(dash_duo, lambda d: list_titles(dash_duo) == ["First topic: apples"], message="not deleted")
    wait_until(dash_duo, lambda d: [c["title"] for c in stored_conversations(dash_duo)] == ["First topic: apples"])
    assert dash_duo.get_logs() == []


def upload(dash_duo, path):
    """Pick a file in the import control."""
    dash_duo.find_element(f"#{ids.BACKUP_IMPORT} input[type=file]").send_keys(str(path))


# True once the drawer has stopped sliding in: no antd motion class on its panel or mask, and its panel in the
# same place 100 ms apart (the motion classes come a frame or two after the content). A click during the slide
# lands where the element was, not where it is.
def contents(conversations):
    """What a person sees of conversations (titles, and each message's role, text and thinking), in any order."""
    return sorted((c["title"], [(m["role"], m["content"], m.get("reasoning") or "") for m in c["messages"]])
                  for c in conversations)


def test_json_export_backup_and_import_round_trip_and_a_bad_file_changes_nothing(dash_duo, upstream, tmp_path):
    start(dash_duo, upstream)
    upstream.script = Script(reply="**粗体** and `code`\n\n```python\nprint('hi')\n```")
    ask(dash_duo, "第一个对话", 0)
    dash_duo.find_element(f"#{ids.STOP}")  # stats, markdown and Chinese all go through the file
    dash_duo.find_element(f"#{ids.NEW_CHAT}").click()
    upstream.script = Script(reply="partial", chunk_chars=2, cut_after=2)
    type_and_send(dash_duo, "second, interrupted")
    wait_for_answer(dash_duo, 0, status="error")
    wait_until(dash_duo, lambda d: len(stored_conversations(dash_duo)) == 2, message="not saved")
    before = contents(stored_conversations(dash_duo))

    downloads = Path(dash_duo.download_path)
    dash_duo.find_element(f"#{ids.EXPORT_JSON}").click()
    wait_until(dash_duo, lambda d: list(downloads.glob("chat-2*.json")), message="no JSON export")
    single = json.loads(next(downloads.glob("chat-2*.json")).read_text(encoding="utf-8"))
    assert single["format"] == "chat-app-conversations" and [c["title"] for c in single["conversations"]] == [
        "second, interrupted"]
    open_settings(dash_duo)
    dash_duo.find_element(f"#{ids.BACKUP_EXPORT}").click()
    wait_until(dash_duo, lambda d: list(downloads.glob("chat-backup-*.json")), message="no backup")
    backup_file = next(downloads.glob("chat-backup-*.json"))
    assert contents(json.loads(backup_file.read_text(encoding="utf-8"))["conversations"]) == before

    # A bad file gets a clear message (each ends saying nothing was changed) and changes nothing.
    bad_role = "conversations[0].messages[0].role"
    for content, words in (("{broken", ZH_ERRORS["import_not_json"]),
                           (json.dumps({"format": "chat-app-conversations", "version": 1, "conversations": [
                               {"id": "x", "title": "t", "messages": [{"role": "hacker", "content": ""}]}]}),
                            ZH_ERRORS["import_bad_format"].format(detail=bad_role))):
        bad = tmp_path / f"bad-{len(content)}.json"
        bad.write_text(content, encoding="utf-8")
        upload(dash_duo, bad)
        wait_until(dash_duo, lambda d: words in toast(d),
                   message=f"no error for {content[:20]}")
        assert contents(stored_conversations(dash_duo)) == before

    # Restore the backup into an empty account: every conversation comes back exactly.
    for conversation in stored_conversations(dash_duo):
        dash_duo.driver.execute_async_script(
            "fetch(`/api/conversations/${arguments[0]}`, {method: 'DELETE'}).then(() => arguments[1]())",
            conversation["id"])
    dash_duo.driver.refresh()
    dash_duo.wait_for_element(f"#{ids.INPUT}")
    assert stored_conversations(dash_duo) == []
    open_settings(dash_duo)
    upload(dash_duo, backup_file)
    wait_until(dash_duo, lambda d: ZH["imported"].format(n=2) in toast(d))
    wait_until(dash_duo, lambda d: contents(stored_conversations(dash_duo)) == before, message="round trip not lossless")
    # Importing the same backup again adds nothing.
    again = tmp_path / "again.json"
    again.write_bytes(backup_file.read_bytes())
    upload(dash_duo, again)
    wait_until(dash_duo, lambda d: ZH["imported"].format(n=0) in toast(d))
    assert len(stored_conversations(dash_duo)) == 2


def test_copy_regenerate_edit_delete_and_stats(dash_duo, upstream):
    start(dash_duo, upstream)
    driver = dash_duo.driver
    driver.execute_cdp_cmd("Browser.grantPermissions", {"origin": dash_duo.server_url,
                                                        "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
    ask(dash_duo, "q1", 0)
    ask(dash_duo, "q2", 1)
    # Stats: the model, first-token time, speed and the backend's own usage (not an estimate).
    stats = wait_for_answer(dash_duo, 1).find_element(By.CSS_SELECTOR, ".chat-stats").text
    assert re.match(template_regex(f"scripted · {ZH['statsFirstToken']}", ms=r"\d+"), stats)
    assert re.search(template_regex(ZH["statsUsage"], prompt="3", completion=r"\d+"), stats)
    assert ZH["statsEstimated"] not in stats
    # A backend that reports no usage gets an estimate, labelled as such.
    upstream.script = Script(usage=False)
    ask(dash_duo, "q3", 2)
    assert ZH["statsEstimated"] in wait_for_answer(dash_duo, 2).find_element(By.CSS_SELECTOR, ".chat-stats").text

    # Copy puts the answer's Markdown source on the clipboard.
    answer = wait_for_answer(dash_duo, 0)
    hover_and_click(dash_duo, answer, ".msg-copy")
    wait_until(dash_duo, lambda d: ZH["copied"] in toast(d))
    clipboard = driver.execute_async_script("navigator.clipboard.readText().then(arguments[0], e => arguments[0](String(e)))")
    assert clipboard == "Answer to: q1 (saw 0 earlier messages)"

    # Regenerate the last answer: replaced in place, asked with the same history.
    upstream.script = Script(reply="a better third answer")
    hover_and_click(dash_duo, wait_for_answer(dash_duo, 2), ".msg-regenerate")
    wait_until(dash_duo, lambda d: answer_text(wait_for_answer(dash_duo, 2)) == "a better third answer")
    assert [m["content"] for m in upstream.requests[-1]["body"]["messages"]] == [
        "q1", "Answer to: q1 (saw 0 earlier messages)", "q2", "Answer to: q2 (saw 2 earlier messages)", "q3"]
    assert len(committed_history(dash_duo)) == 6
    # Only the last answer offers regenerate.
    assert not wait_for_answer(dash_duo, 0).find_element(By.CSS_SELECTOR, ".msg-regenerate").is_displayed()

    # Edit the second question and resend: it and every later turn are replaced.
    upstream.script = Script()
    hover_and_click(dash_duo, driver.find_elements(By.CSS_SELECTOR, USER)[1], ".msg-edit")
    wait_until(dash_duo, lambda d: dash_duo.find_element(f"#{ids.EDIT_BANNER}").is_displayed())
    assert ZH["editing"].format(n=2) in dash_duo.find_element(f"#{ids.EDIT_BANNER}").text
    box = dash_duo.find_element(f"#{ids.INPUT}")
    assert box.get_attribute("value") == "q2"
    box.send_keys(" edited")
    box.send_keys(Keys.ENTER)
    wait_until(dash_duo, lambda d: questions(dash_duo) == ["q1", "q2 edited"], message="later turns not replaced")
    assert answer_text(wait_for_answer(dash_duo, 1)) == "Answer to: q2 edited (saw 2 earlier messages)"
    assert not dash_duo.find_element(f"#{ids.EDIT_BANNER}").is_displayed()

    # Delete a turn: its question and answer go, the rest stays.
    hover_and_click(dash_duo, driver.find_elements(By.CSS_SELECTOR, USER)[0], ".msg-delete")
    wait_until(dash_duo, lambda d: questions(dash_duo) == ["q2 edited"], message="turn not deleted")
    assert [m["content"] for m in committed_history(dash_duo)] == ["q2 edited",
                                                                   "Answer to: q2 edited (saw 2 earlier messages)"]
    assert dash_duo.get_logs() == []


def slider_keys(dash_duo, slider_id, *keys):
    """Move an antd slider with the keyboard, as a keyboard user does."""
    handle = dash_duo.find_element(f"#{slider_id} .ant-slider-handle")
    handle.click()
    for key in keys:
        handle.send_keys(key)


def test_settings_are_sent_remembered_and_language_and_theme_switch(dash_duo, upstream):
    start(dash_duo, upstream)
    open_settings(dash_duo)
    # A preset fills the system prompt; temperature, max tokens and history length are set.
    dash_duo.find_element(f"#{ids.PRESET}").click()
    wait_until(dash_duo, lambda d: [o for o in d.find_elements(By.CSS_SELECTOR, ".ant-select-item-option")
                                    if o.text == ZH["presetWeekly"]])
    next(o for o in dash_duo.driver.find_elements(By.CSS_SELECTOR, ".ant-select-item-option")
         if o.text == ZH["presetWeekly"]).click()
    prompt = dash_duo.find_element(f"#{ids.SYSTEM_PROMPT}")
    wait_until(dash_duo, lambda d: prompt.get_attribute("value").startswith(ZH_PRESETS["weekly"]))
    slider_keys(dash_duo, ids.TEMPERATURE, Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)
    dash_duo.find_element(f"#{ids.MAX_TOKENS}").send_keys("256")
    slider_keys(dash_duo, ids.HISTORY_TURNS, Keys.HOME)
    close_settings(dash_duo)

    for n in range(3):
        ask(dash_duo, f"note {n}", n)
    body = upstream.requests[-1]["body"]
    assert body["messages"][0]["role"] == "system" and body["messages"][0]["content"].startswith(ZH_PRESETS["weekly"])
    # One earlier turn only, then the question.
    assert [m["content"] for m in body["messages"][1:]] == ["note 1", "Answer to: note 1 (saw 2 earlier messages)",
                                                            "note 2"]
    assert body["temperature"] == 0.9 and body["max_tokens"] == 256

    # Remembered after a reload.
    dash_duo.driver.refresh()
    wait_for_answer(dash_duo, 2)
    ask(dash_duo, "note 3", 3)
    again = upstream.requests[-1]["body"]
    assert again["messages"][0] == body["messages"][0]
    assert again["temperature"] == 0.9 and again["max_tokens"] == 256 and len(again["messages"]) == 4

    # Dark theme, remembered.
    open_settings(dash_duo)
    next(e for e in dash_duo.driver.find_elements(By.CSS_SELECTOR, f"#{ids.THEME} .ant-segmented-item")
         if e.text == ZH["themeDark"]).click()
    wait_until(dash_duo, lambda d: d.execute_script("return document.documentElement.dataset.theme") == "dark")
    dark_bg = "return getComputedStyle(document.body).backgroundColor"
    assert dash_duo.driver.execute_script(dark_bg) == "rgb(20, 20, 20)"
    dash_duo.driver.refresh()
    dash_duo.wait_for_element(f"#{ids.INPUT}")
    wait_until(dash_duo, lambda d: d.execute_script(dark_bg) == "rgb(20, 20, 20)", message="theme not remembered")

    # English: every visible string, the antd locale too; the conversation stays.
    open_settings(dash_duo)
    next(e for e in dash_duo.driver.find_elements(By.CSS_SELECTOR, f"#{ids.LANGUAGE} .ant-segmented-item")
         if e.text == LANGUAGE_NAMES["en-US"]).click()
    wait_until(dash_duo, lambda d: d.find_element(By.CSS_SELECTOR, f"#{ids.SEND}").text == EN["send"],
               message="no English")
    wait_for_answer(dash_duo, 3)
    page = dash_duo.driver.find_element(By.TAG_NAME, "body").text
    for text in (EN["newChat"], EN["multiTurn"], EN["export"], EN["clear"], EN["settings"]):
        assert text in page, text
    assert re.search(template_regex(EN["statsFirstToken"], ms=r"\d+"), page)
    assert not [ch for ch in dash_duo.find_element(".chat-header").text if "\u4e00" <= ch <= "\u9fff"]
    assert dash_duo.find_element(f"#{ids.INPUT}").get_attribute("placeholder").startswith(EN["placeholder"])
    assert dash_duo.get_logs() == []


def test_phone_width_375_px(dash_duo, upstream):
    start(dash_duo, upstream)
    driver = dash_duo.driver
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 375, "height": 740, "deviceScaleFactor": 2, "mobile": True})
    upstream.script = Script(reply="Here:\n\n```python\n" + "value = compute(alpha, beta); " * 20 + "\n```\n\n"
                             + "A long_word_without_spaces_" * 10)
    type_and_send(dash_duo, "wide things please")
    wait_for_answer(dash_duo, 0)
    # The list is a closed drawer (it slides away when the width shrinks: waited for, not caught mid-slide).
    wait_until(dash_duo, lambda d: d.execute_script(
        f"return document.querySelector('#{ids.SIDER}').getBoundingClientRect().right") <= 0, message="list shown")
    geometry = driver.execute_script(PAGE_IDS + """
        const rect = (s) => document.querySelector(s).getBoundingClientRect();
        // The code block's scrolling box (fmc puts it inside the <pre>).
        const code = [...document.querySelectorAll('.chat-markdown pre, .chat-markdown pre *')]
          .find((e) => e.scrollWidth > e.clientWidth && ['auto', 'scroll'].includes(getComputedStyle(e).overflowX));
        return {width: innerWidth, height: innerHeight, page: document.documentElement.scrollWidth,
                inputBottom: rect('.chat-input-bar').bottom, siderRight: rect(`#${pageIds.SIDER}`).right,
                codeScrolls: !!code, codeRight: code && code.getBoundingClientRect().right,
                headerRight: rect('.chat-header').right, toolbarRight: rect('.chat-toolbar').right};""")
    assert geometry["width"] == 375
    assert geometry["page"] <= 375, geometry  # nothing widens the page
    assert abs(geometry["inputBottom"] - geometry["height"]) <= 1  # the input bar sits at the bottom
    assert geometry["siderRight"] <= 0
    assert geometry["codeScrolls"] and geometry["codeRight"] <= 375  # the code block scrolls sideways
    assert geometry["toolbarRight"] <= 375 and geometry["headerRight"] <= 375
    # The menu button opens the list as a drawer; picking a conversation closes it.
    dash_duo.find_element(f"#{ids.SIDER_TOGGLE}").click()
    wait_until(dash_duo, lambda d: d.execute_script(
        f"return document.querySelector('#{ids.SIDER}').getBoundingClientRect().left") >= 0, message="drawer closed")
    click(dash_duo, f"#{ids.LIST} .conv-item")  # the list may be redrawn meanwhile (the answer's title)
    wait_until(dash_duo, lambda d: d.execute_script(
        f"return document.querySelector('#{ids.SIDER}').getBoundingClientRect().right") <= 0, message="drawer open")
    # The input still works at this size.
    type_and_send(dash_duo, "from the phone")
    wait_for_answer(dash_duo, 1)


def test_a_thousand_message_conversation_renders_its_tail_and_loads_earlier_on_scroll(dash_duo, upstream):
    start(dash_duo, upstream)
    driver = dash_duo.driver
    driver.execute_async_script("""
        const done = arguments[0];
        const messages = [];
        for (let i = 0; i < 500; i++) {
          messages.push({role: 'user', content: `question ${i}`},
                        {role: 'assistant', content: `answer **${i}**`, status: 'done'});
        }
        const conversations = [{id: 'c-long', title: 'long', createdAt: 1, updatedAt: 2, messages}];
        fetch('/api/import', {method: 'POST', headers: {'Content-Type': 'application/json'},
                              body: JSON.stringify({format: 'chat-app-conversations', version: 1, conversations})})
          .then(() => done());""")
    driver.refresh()
    wait_until(dash_duo, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".chat-message")) == 64, message="no tail")
    assert questions(dash_duo)[-1] == "question 499"
    assert dash_duo.find_element(f"#{ids.EARLIER}").text == ZH["loadEarlier"].format(n=64)
    # Scrolling to the top renders the previous 64, in order, above.
    driver.execute_script(f"document.getElementById('{ids.SCROLL}').scrollTop = 0")
    wait_until(dash_duo, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".chat-message")) == 128, message="no more")
    assert questions(dash_duo)[0] == "question 436" and questions(dash_duo)[-1] == "question 499"
    # A new turn lands at the end with the right index (the window keeps its size: the oldest turn shown goes).
    ask(dash_duo, "question 500", 63)
    assert len(committed_history(dash_duo)) == 1002
    assert driver.find_element(By.ID, ids.message(1001)).get_attribute("data-status") == "done"


# Holds the response to the first callback fired by a change of `arguments[0]` ("<id>.<prop>") for 1.5 s, so something
# else happens while it is on its way; notes the order callbacks were asked for in, and whether a question, once
# drawn, ever left the screen.
HOLD = PAGE_IDS + """
const [held] = arguments;
Object.assign(window, {__held: 0, __heldRead: 0, __asked: [], __questionsLost: false});
let questions = 0;
new MutationObserver(() => {
  const now = document.querySelectorAll(".chat-message[data-role='user']").length;
  if (now < questions) window.__questionsLost = true;
  questions = now;
}).observe(document.getElementById(pageIds.MESSAGES), {childList: true, subtree: true});
const realFetch = window.fetch;
window.fetch = async function (resource, options) {
  const body = options && typeof options.body === 'string' && options.body.startsWith('{') ? JSON.parse(options.body)
    : {};
  const changed = body.changedPropIds || [];
  window.__asked.push(...changed);
  const hold = !window.__held && changed.includes(held);
  if (hold) window.__held = 1;
  const response = await realFetch.call(this, resource, options);
  if (!hold) return response;
  await new Promise((resolve) => setTimeout(resolve, 1500));
  window.__asked.push('held answered');
  const read = response.json.bind(response);
  response.json = () => read().finally(() => { window.__heldRead = 1; });
  return response;
};
"""
DARK_NOW = "window.dash_clientside.set_props(arguments[0], {data: true})"


@pytest.mark.parametrize("held, then", [
    (f"{ids.DONE}.data", "dark"),  # an answer ends (its drawing held), then the theme changes
    (f"{ids.DARK}.data", "send"),  # the theme changes (its drawing held), then a question is sent
    (f"{ids.SEND}.n_clicks", "dark"),  # a question is sent (held), then the theme changes
])
def test_two_drawings_on_their_way_at_once_draw_every_message_once(dash_duo, upstream, held, then):
    """Whatever order two drawings of the page are asked for and answered in, no patch lands on a drawing it was not
    computed for: each message is drawn once (one was drawn twice), and no question leaves the screen."""
    start(dash_duo, upstream)
    type_and_send(dash_duo, "first question")
    wait_for_answer(dash_duo, 0)
    driver = dash_duo.driver
    driver.execute_script(HOLD, held)
    upstream.script = Script(reply="streamed " * 30, chunk_chars=9, delay=0.03)  # followed until it ends
    if held == f"{ids.DARK}.data":
        driver.execute_script(DARK_NOW, ids.DARK)
    else:
        type_and_send(dash_duo, "second question")
    wait_until(dash_duo, lambda d: d.execute_script("return window.__held") == 1, message="nothing held")
    if then == "dark":
        driver.execute_script(DARK_NOW, ids.DARK)
    else:
        type_and_send(dash_duo, "second question")
    wait_for_answer(dash_duo, 1)
    # Once the held response has come and gone, and the page has drawn what it was going to:
    wait_until(dash_duo, lambda d: d.execute_script("return window.__heldRead") == 1, message="held never read")
    driver.execute_async_script(
        "const done = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(done, 300)));")
    messages = driver.find_elements(By.CSS_SELECTOR, ".chat-message")
    assert [(m.get_attribute("data-role"), m.get_attribute("data-status")) for m in messages] == [
        ("user", None), ("assistant", "done"), ("user", None), ("assistant", "done")]
    assert [m.text for m in driver.find_elements(By.CSS_SELECTOR, USER)] == ["first question", "second question"]
    assert not driver.execute_script("return window.__questionsLost"), driver.execute_script("return window.__asked")
    if held == f"{ids.SEND}.n_clicks":  # Dash held the theme's drawing until the question's had landed
        asked = driver.execute_script("return window.__asked")
        assert asked.index(f"{ids.DARK}.data") > asked.index("held answered"), asked
