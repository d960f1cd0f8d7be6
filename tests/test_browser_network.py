"""The network between the page and the server fails mid-answer: a closed laptop or a lost Wi-Fi (every connection
dropped, new ones refused), the request that draws the answer's end lost, a connection a network change left silent.
The answer is the server's: once the network is back, the page shows it whole and finished, without a reload."""

import time
from urllib.parse import urlsplit

import pytest
import requests
from selenium.webdriver.common.by import By

from components import ids
from testkit.browser import start, type_and_send, wait_for_markdown, wait_until
from testkit.relay import Relay
from testkit.upstream import Script
from testkit.waiting import wait_until as wait_for
from tests.test_browser_sync import LONG, status_of, text_of

# ~24 s at the upstream's pace below: still being written when the network is back.
LONGER = " ".join(f"word{i}" for i in range(800))
SAME_PAGE = "return window.__samePage === true"  # set before the network fails: a reload would lose it


@pytest.fixture(params=[LONG], ids=["answer"])
def page(dash_duo, upstream, request):
    """The page, reached through a Relay (the network a test can fail), asking a question whose answer is
    `request.param` (LONG unless the test says): it is under way, with some text on screen."""
    start(dash_duo, upstream)
    server = urlsplit(dash_duo.server_url)
    relay = Relay(server.hostname, server.port)
    dash_duo.driver.get(relay.url)
    dash_duo.wait_for_element(f"#{ids.INPUT}")
    wait_for_markdown(dash_duo.driver, 15)
    upstream.script = Script(reply=request.param, chunk_chars=5, delay=0.02)
    type_and_send(dash_duo, "a long one")
    wait_until(dash_duo, lambda d: "word10" in text_of(d, 0), message="no partial text")
    dash_duo.driver.execute_script("window.__samePage = true")
    yield dash_duo, relay
    relay.cut()  # its port and threads go with the test


def stored_answer(dash_duo):
    """The answer as the server has it (read straight from the server, not through the failed network)."""
    listed = requests.get(f"{dash_duo.server_url}/api/conversations", timeout=5).json()["data"]
    found = requests.get(f"{dash_duo.server_url}/api/conversations/{listed[0]['id']}", timeout=5).json()
    return found["messages"][-1]


def settled(dash_duo):
    """How much of the answer the page shows once what reached it before the network failed is drawn."""
    lengths = [-1]
    while len(lengths) < 10 or lengths[-10] != lengths[-1]:  # the same for a second
        lengths.append(len(text_of(dash_duo.driver, 0)))
        time.sleep(0.1)
    return lengths[-1]


def followed_live_again(dash_duo, drawn):
    """The page's answer grows past `drawn` characters while the server is still writing it: it follows the answer
    live again, not only draws its end."""
    wait_until(dash_duo, lambda d: len(text_of(d, 0)) > drawn, timeout=30, message="the answer never moved again")
    assert stored_answer(dash_duo)["status"] == "streaming"


def shown(driver, element_id):
    """True when the element is on the page and displayed."""
    return any(element.is_displayed() for element in driver.find_elements(By.CSS_SELECTOR, f"#{element_id}"))


def shown_whole_and_finished(dash_duo, answer=LONG):
    """The answer is on screen whole and drawn finished (Stop gone, Send back), in the page that asked it."""
    wait_until(dash_duo, lambda d: status_of(d, 0) == "done", timeout=40, message="the answer was never drawn done")
    driver = dash_duo.driver
    assert text_of(driver, 0) == answer, "characters lost or repeated"
    assert shown(driver, ids.SEND) and not shown(driver, ids.STOP)
    assert driver.execute_script(SAME_PAGE), "the page was reloaded"


@pytest.mark.parametrize("page", [LONGER], indirect=True, ids=["longer answer"])
def test_an_answer_is_followed_live_again_once_the_network_is_back(page):
    dash_duo, relay = page
    relay.cut()
    drawn = settled(dash_duo)
    time.sleep(5)  # longer than a few quick tries of the page
    assert stored_answer(dash_duo)["status"] == "streaming"
    relay.restore()
    followed_live_again(dash_duo, drawn)
    shown_whole_and_finished(dash_duo, LONGER)


def test_an_answer_that_ended_while_the_network_was_down_is_shown_whole_once_it_is_back(page):
    dash_duo, relay = page
    relay.cut()
    # Down for longer than the answer takes, and than a few quick tries of the page.
    wait_for(lambda: stored_answer(dash_duo)["status"] == "done", 30, "the server never finished the answer")
    assert text_of(dash_duo.driver, 0) != LONG and status_of(dash_duo.driver, 0) == "streaming"
    relay.restore()
    shown_whole_and_finished(dash_duo)


def test_an_answer_whose_finished_drawing_was_lost_is_drawn_finished(page):
    dash_duo, _ = page
    driver = dash_duo.driver
    # The page's calls to Dash fail (the answer's own stream is open, and goes on): the one that draws the end too.
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*_dash-update-component*"]})
    wait_until(dash_duo, lambda d: text_of(d, 0) == LONG, timeout=30, message="the answer's stream stopped")
    wait_for(lambda: stored_answer(dash_duo)["status"] == "done", 10, "the server never finished the answer")
    assert status_of(driver, 0) == "streaming"
    driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
    shown_whole_and_finished(dash_duo)


@pytest.mark.parametrize("page", [LONGER], indirect=True, ids=["longer answer"])
def test_an_answer_stream_gone_silent_is_dropped_and_resumed(page):
    dash_duo, relay = page
    # Nothing more arrives on the answer's connection, not even its end; the page's other requests go through.
    assert relay.silence(b"/api/generations/") == 1
    followed_live_again(dash_duo, settled(dash_duo))
    shown_whole_and_finished(dash_duo, LONGER)
