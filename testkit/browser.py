"""Browser helpers: a dash_duo page of the app driven as a person does, and a plain headless chromium for benchmarks."""

import json
import os
import shutil

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from components import ids
from testkit import waiting
from testkit.app import build_app, upstream_env

ASSISTANT = ".chat-message[data-role='assistant']"
MARKDOWN_READY = "return !!window.feffery_markdown_components"
# In front of a script run in the page, gives it components/ids.py's ids as `pageIds` (pageIds.INPUT…).
PAGE_IDS = "const pageIds = %s;\n" % json.dumps(
    {name: value for name, value in vars(ids).items() if name.isupper() and isinstance(value, str)})


def start(dash_duo, upstream, **env):
    """Serve a fresh app against the scripted upstream and wait for the input box."""
    app = build_app(upstream_env(upstream, **env))
    dash_duo.start_server(app)
    dash_duo.wait_for_element(f"#{ids.INPUT}")
    wait_for_markdown(dash_duo.driver, 15)
    return app


def wait_for_markdown(driver, timeout=30):
    """Wait until chat.js has loaded fmc's bundle (it does so once the page is idle), so answers are Markdown."""
    WebDriverWait(driver, timeout).until(lambda d: d.execute_script(MARKDOWN_READY), "the Markdown bundle never loaded")


def wait_until(dash_duo, condition, timeout=15, message=""):
    """Wait for a JS or Python condition on the page (an element redrawn while it is checked: checked again)."""
    return WebDriverWait(dash_duo.driver, timeout, ignored_exceptions=[StaleElementReferenceException]).until(
        lambda d: condition(d), message)


def type_and_send(dash_duo, text):
    """Type a question into the box and press Enter, as a person does (the box found again if it was redrawn
    before the first key, e.g. while antd's lazy input component loads)."""
    def typed(driver):
        try:
            box = driver.find_element(By.CSS_SELECTOR, f"#{ids.INPUT}")
            box.send_keys(text)
        except (StaleElementReferenceException, NoSuchElementException):
            return None
        return box

    box = wait_until(dash_duo, typed, message="could not type into the box")
    box.send_keys(Keys.ENTER)


def answers(dash_duo):
    """The assistant message elements."""
    return dash_duo.driver.find_elements(By.CSS_SELECTOR, ASSISTANT)


def _retried(read, tries=10):
    """read(), again while it hits an element redrawn in between (each try finds the element afresh)."""
    for _ in range(tries - 1):
        try:
            return read()
        except StaleElementReferenceException:
            continue
    return read()


class Fresh:
    """An element found again on every use: the callbacks redraw messages and list items whenever the store
    changes, so a reference kept across an action may point at a node that is gone."""

    def __init__(self, find):
        self._find = find

    def find_element(self, *args):
        """A child, itself found afresh on every use."""
        return Fresh(lambda: self._find().find_element(*args))

    def now(self):
        """The element as it is drawn now (for what needs a real element: a script argument, a mouse move)."""
        return self._find()

    def __getattr__(self, name):
        value = _retried(lambda: getattr(self._find(), name))
        if callable(value):
            return lambda *args, **kwargs: _retried(lambda: getattr(self._find(), name)(*args, **kwargs))
        return value


def wait_for_answer(dash_duo, index, status="done"):
    """Wait until answer `index` (0-based) has the given data-status; return it (looked up afresh on each use)."""
    def has_status(_driver):
        try:
            return len(answers(dash_duo)) > index and answers(dash_duo)[index].get_attribute("data-status") == status
        except StaleElementReferenceException:
            return False

    wait_until(dash_duo, has_status, message=f"answer {index} never became {status}")
    return Fresh(lambda: answers(dash_duo)[index])


def answer_text(element):
    """The rendered Markdown of an answer (without its action bar and stats)."""
    return element.find_element(By.CSS_SELECTOR, ".chat-markdown").text


def toast(driver):
    """The text of the toast on screen ('' when none, or faded out), read in one step (a new one replaces it)."""
    return driver.execute_script("const e = document.querySelector('.chat-toast');"
                                 "return e && getComputedStyle(e).visibility !== 'hidden' ? e.textContent : ''")


def click(dash_duo, selector):
    """Click the element `selector` finds, finding it again if it was redrawn meanwhile."""
    def clicked(driver):
        try:
            driver.find_element(By.CSS_SELECTOR, selector).click()
            return True
        except (StaleElementReferenceException, NoSuchElementException):
            return False

    wait_until(dash_duo, clicked, message=f"could not click {selector}")


FETCH_JSON = """
const done = arguments[arguments.length - 1];
fetch(arguments[0]).then((r) => r.json()).then(done, () => done(null));
"""


def fetch_json(dash_duo, path):
    """GET a JSON route of the app as the page's own browser (its cookies, its user)."""
    return dash_duo.driver.execute_async_script(FETCH_JSON, path)


def stored_conversations(dash_duo):
    """The signed-in user's conversations in the server's store, each with its messages, newest first."""
    listed = fetch_json(dash_duo, "/api/conversations")["data"]
    return [fetch_json(dash_duo, f"/api/conversations/{c['id']}") for c in listed]


def shown_conversation_id(dash_duo):
    """The id of the conversation on screen (the active list item), or None; read in one step (the list is
    redrawn as it changes)."""
    return dash_duo.driver.execute_script(
        "const item = document.querySelector('.conv-item--active'); return item ? item.dataset.id : null")


def committed_history(dash_duo):
    """The stored messages of the conversation on screen (what export and the next turn use)."""
    cid = shown_conversation_id(dash_duo)
    return fetch_json(dash_duo, f"/api/conversations/{cid}")["messages"] if cid else []


def browser():
    """Headless Debian chromium (no app, no dash_duo) with network events in its performance log."""
    options = webdriver.ChromeOptions()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--no-first-run"):
        options.add_argument(flag)
    options.binary_location = os.environ.get("DASH_TEST_CHROMEPATH") or shutil.which("chromium") or "/usr/bin/chromium"
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    return webdriver.Chrome(options=options)


# The number of answers drawn, and the length of the last one's text.
DRAWN_ANSWERS = (f"const a = [...document.querySelectorAll(\"{ASSISTANT} [id^={ids.ANSWER_PREFIX}]\")];"
                 " return [a.length, a.length ? a[a.length - 1].textContent.length : 0]")


def ask_in_page(driver, question, number, chars):
    """In a plain driver's page (see browser()): type `question`, press Enter, and wait until answer `number`
    (1-based: this question's, not the one before it) shows more than `chars` characters; returns that length."""
    box = driver.find_element(By.CSS_SELECTOR, f"#{ids.INPUT}")
    box.send_keys(question)
    box.send_keys(Keys.ENTER)
    return waiting.wait_until(lambda: (a := driver.execute_script(DRAWN_ANSWERS))[0] == number and a[1] > chars
                              and a[1], 30, f"answer {number} to show text")


DRAWER_SETTLED = """
const done = arguments[arguments.length - 1];
const panel = () => document.querySelector('.ant-drawer-content-wrapper');
const moving = () => !!document.querySelector('.ant-drawer [class*="motion-appear"], .ant-drawer [class*="motion-enter"]');
const before = panel() && panel().getBoundingClientRect().left;
setTimeout(() => done(!moving() && panel() !== null && panel().getBoundingClientRect().left === before), 100);
"""


def open_settings(dash_duo):
    """Open the settings drawer and wait until it has finished sliding in."""
    dash_duo.find_element(f"#{ids.SETTINGS_OPEN}").click()
    wait_until(dash_duo, lambda d: d.find_element(By.CSS_SELECTOR, f"#{ids.MODEL}").is_displayed())
    wait_until(dash_duo, lambda d: d.execute_async_script(DRAWER_SETTLED), message="the drawer never settled")


def close_settings(dash_duo):
    """Close the drawer with its close button."""
    dash_duo.find_element(".ant-drawer-close").click()
    wait_until(dash_duo, lambda d: not d.find_element(By.CSS_SELECTOR, f"#{ids.MODEL}").is_displayed())
