"""Two browsers of one user stay in step, and an answer is the server's: it can be watched and stopped from any
page, and switching away and back mid-answer picks it up where it is."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from components import ids
from testkit.browser import (ASSISTANT, answer_text, browser, click, start, type_and_send, wait_for_answer,
                             wait_until)
from testkit.upstream import Script

LONG = " ".join(f"word{i}" for i in range(400))  # ~8 s at the pace below


@pytest.fixture
def laptop_and_phone(dash_duo, upstream):
    """The page in dash_duo's browser ("laptop") and in a second headless chromium ("phone"), one user."""
    start(dash_duo, upstream)
    phone = browser()
    phone.get(dash_duo.server_url)
    WebDriverWait(phone, 15).until(lambda d: d.find_elements(By.CSS_SELECTOR, f"#{ids.INPUT}"))
    yield dash_duo, phone
    phone.quit()


def titles(driver):
    """The conversation list's titles, read in one step (the list is redrawn as it changes)."""
    return driver.execute_script(f"return [...document.querySelectorAll('#{ids.LIST} .conv-item-title')]"
                                 ".map((e) => e.textContent)")


def status_of(driver, index):
    """data-status of answer `index` ('' when there is none yet)."""
    return driver.execute_script("const a = document.querySelectorAll(arguments[0])[arguments[1]];"
                                 " return a ? a.dataset.status : ''", ASSISTANT, index)


def text_of(driver, index):
    """The text of answer `index`."""
    return driver.execute_script("const a = document.querySelectorAll(arguments[0])[arguments[1]];"
                                 " const md = a && a.querySelector(arguments[2]); return md ? md.textContent : ''",
                                 ASSISTANT, index, f"[id^={ids.ANSWER_PREFIX}]")


def test_a_change_in_one_browser_shows_in_the_other_without_a_reload(laptop_and_phone, upstream):
    laptop, phone = laptop_and_phone
    wait = WebDriverWait(phone, 15)
    type_and_send(laptop, "asked on the laptop")
    assert answer_text(wait_for_answer(laptop, 0)) == "Answer to: asked on the laptop (saw 0 earlier messages)"
    wait.until(lambda d: titles(d) == ["asked on the laptop"], "the phone's list never showed it")
    phone.find_element(By.CSS_SELECTOR, ".conv-item").click()
    wait.until(lambda d: text_of(d, 0) == "Answer to: asked on the laptop (saw 0 earlier messages)")

    # The phone asks a long follow-up: the laptop, showing the same conversation, sees it arrive and stream.
    upstream.script = Script(reply=LONG, chunk_chars=5, delay=0.02)
    box = phone.find_element(By.CSS_SELECTOR, f"#{ids.INPUT}")
    box.send_keys("and from the phone")
    box.send_keys(Keys.ENTER)
    wait_until(laptop, lambda d: status_of(d, 1) == "streaming", message="the laptop never saw the new answer")
    wait_until(laptop, lambda d: "word20" in text_of(d, 1), message="the laptop does not follow it live")

    # Stop on the laptop: the answer the phone started stops, on both screens, its text kept.
    click(laptop, f"#{ids.STOP}")
    wait_until(laptop, lambda d: status_of(d, 1) == "done" and d.find_elements(By.CSS_SELECTOR, f"{ASSISTANT} .chat-note"),
               message="not stopped on the laptop")
    wait.until(lambda d: status_of(d, 1) == "done", "not stopped on the phone")
    assert upstream.wait_for_close(timeout=5) is not None
    kept = text_of(phone, 1)
    assert kept.startswith("word0 word1") and len(kept) < len(LONG)

    # A rename on the phone reaches the laptop's list.
    phone.execute_script("document.querySelector('.conv-item--active .conv-rename').click()")
    box = wait.until(lambda d: [e for e in d.find_elements(By.CSS_SELECTOR, f"#{ids.RENAME_INPUT}")
                                if e.is_displayed()])[0]
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys("renamed on the phone")
    phone.find_element(By.CSS_SELECTOR, ".ant-modal-footer .ant-btn-primary").click()
    wait_until(laptop, lambda d: titles(d) == ["renamed on the phone"], message="the laptop's list is stale")


def test_switching_away_and_back_mid_answer_picks_it_up(dash_duo, upstream):
    start(dash_duo, upstream)
    upstream.script = Script(reply=LONG, chunk_chars=5, delay=0.02)
    type_and_send(dash_duo, "a long one")
    wait_until(dash_duo, lambda d: "word10" in text_of(d, 0), message="no partial text")
    # Another chat meanwhile: its own question and answer, while the first goes on on the server.
    upstream.script = Script()
    click(dash_duo, f"#{ids.NEW_CHAT}")
    wait_until(dash_duo, lambda d: not d.find_elements(By.CSS_SELECTOR, ".chat-message"), message="no new chat")
    type_and_send(dash_duo, "a short one")
    assert answer_text(wait_for_answer(dash_duo, 0)) == "Answer to: a short one (saw 0 earlier messages)"
    # Back to the first: still being written, then complete and exact.
    dash_duo.driver.execute_script(
        "[...document.querySelectorAll('.conv-item')].find((e) => e.textContent === 'a long one').click()")
    wait_until(dash_duo, lambda d: d.find_elements(By.CSS_SELECTOR, ".chat-message[data-role='user']")
               and d.find_element(By.CSS_SELECTOR, ".chat-message[data-role='user']").text == "a long one",
               message="did not switch back")
    assert answer_text(wait_for_answer(dash_duo, 0)) == LONG
