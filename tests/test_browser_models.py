"""Browser tests of reasoning models and several providers: the thinking block, its export, the grouped picker."""

import json
import re
import threading
from pathlib import Path

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from components import ids
from testkit.app import build_app
from testkit.browser import open_settings, start, type_and_send, wait_for_answer
from testkit.providers import two_providers
from testkit.strings import ZH, template_regex
from testkit.upstream import Script, ScriptedUpstream

THOUGHT = "Two plus two: count on from two, three, four."
ANSWER = "The answer is 4."


def wait_until(dash_duo, condition, timeout=15, message=""):
    """Wait for a condition on the page; elements redrawn meanwhile (stale or not there yet) count as not yet."""
    return WebDriverWait(dash_duo.driver, timeout, ignored_exceptions=(NoSuchElementException,
                         StaleElementReferenceException)).until(condition, message)


def reasoning_block(dash_duo):
    """The thinking block of the first answer."""
    return dash_duo.find_element(".chat-message[data-role='assistant'] .chat-reasoning")


def test_the_reasoning_shows_open_while_thinking_then_collapses_with_its_duration(dash_duo, upstream):
    gate = threading.Event()
    upstream.script = Script(reply=ANSWER, reasoning=THOUGHT, answer_gate=gate)
    start(dash_duo, upstream)
    type_and_send(dash_duo, "2+2?")
    wait_until(dash_duo, lambda d: reasoning_block(dash_duo).text == f"{ZH['thinking']}\n{THOUGHT}",
               message="the reasoning never showed while thinking")
    assert reasoning_block(dash_duo).get_attribute("open") == "true"
    gate.set()
    answer = wait_for_answer(dash_duo, 0)
    block = reasoning_block(dash_duo)
    assert block.get_attribute("open") is None
    # Collapsed: only its summary is visible.
    assert re.fullmatch(template_regex(ZH["thoughtFor"], n=r"[\d.]+"), block.text)
    assert answer.find_element(By.CSS_SELECTOR, ".chat-markdown").text == ANSWER


def test_the_reasoning_is_kept_exported_counted_and_never_sent_back(dash_duo, upstream):
    upstream.script = Script(reply=ANSWER, reasoning=THOUGHT)
    start(dash_duo, upstream)
    type_and_send(dash_duo, "2+2?")
    answer = wait_for_answer(dash_duo, 0)
    stats = answer.find_element(By.CSS_SELECTOR, ".chat-stats").text
    assert ZH["statsReasoning"].format(n=12) in stats  # the backend's count

    dash_duo.driver.refresh()  # stored with the message
    wait_for_answer(dash_duo, 0)
    assert reasoning_block(dash_duo).get_attribute("textContent").endswith(THOUGHT)

    downloads = Path(dash_duo.download_path)
    dash_duo.find_element(f"#{ids.EXPORT_MARKDOWN}").click()
    wait_until(dash_duo, lambda d: list(downloads.glob("chat-*.md")), message="no Markdown export")
    markdown = next(downloads.glob("chat-*.md")).read_text(encoding="utf-8")
    assert f"<details><summary>{ZH['reasoning']}</summary>\n\n{THOUGHT}\n\n</details>\n\n{ANSWER}" in markdown
    dash_duo.find_element(f"#{ids.EXPORT_JSON}").click()
    wait_until(dash_duo, lambda d: list(downloads.glob("chat-2*.json")), message="no JSON export")
    exported = json.loads(next(downloads.glob("chat-2*.json")).read_text(encoding="utf-8"))
    assert exported["conversations"][0]["messages"][1]["reasoning"] == THOUGHT

    type_and_send(dash_duo, "and 3+3?")
    wait_for_answer(dash_duo, 1)
    earlier = upstream.requests[-1]["body"]["messages"][:-1]
    assert earlier == [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": ANSWER}]


def test_the_model_picker_groups_models_by_provider(dash_duo, upstream, tmp_path):
    with ScriptedUpstream() as beta:
        beta.script = Script(models=("thinker",))
        app = build_app(two_providers(tmp_path, upstream.url, beta.url, '["thinker"]'))
        dash_duo.start_server(app)
        dash_duo.wait_for_element(f"#{ids.INPUT}")
        open_settings(dash_duo)
        picker = dash_duo.find_element(f"#{ids.MODEL}")  # the search input; the box around it takes the click
        picker.find_element(By.XPATH, "./ancestor::div[contains(@class, 'ant-select-selector')]").click()
        expected = [("ant-select-item-group", "alpha"), ("ant-select-item-option", "scripted"),
                    ("ant-select-item-option", "shared"), ("ant-select-item-group", "beta"),
                    ("ant-select-item-option", "thinker")]
        # Read until the dropdown has faded in (selenium sees no text while it is transparent).
        wait_until(dash_duo, lambda d: picker_items(d) == expected, message="the picker never showed the groups")


def picker_items(driver):
    """(group header or option, visible text) of the open picker's dropdown, in order."""
    return [(e.get_attribute("class").split()[1], e.text)
            for e in driver.find_elements(By.CSS_SELECTOR, ".ant-select-item-group, .ant-select-item-option")]
