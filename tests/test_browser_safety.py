"""Browser tests of the failure paths: upstream faults, bad input, hostile answers, closing the tab."""


import pytest
from selenium.common.exceptions import NoAlertPresentException, TimeoutException
from selenium.webdriver.common.by import By

from components import ids
from testkit.app import build_app
from testkit.browser import (ASSISTANT, answer_text, answers, committed_history, start, toast, type_and_send,
                             wait_for_answer, wait_until)
from testkit.hostile import HOSTILE
from testkit.strings import ZH, ZH_ERRORS
from testkit.upstream import Script, free_port

# (script, the localized message the page must show)
PAGE_FAULTS = [
    (Script(status=401), ZH_ERRORS["upstream_auth_failed"]),
    (Script(status=403), ZH_ERRORS["upstream_auth_failed"]),
    (Script(status=404), ZH_ERRORS["model_not_found"]),
    (Script(status=429), ZH_ERRORS["upstream_rate_limited"]),
    (Script(status=429, headers={"Retry-After": "30"}), ZH_ERRORS["upstream_rate_limited"]),
    (Script(status=500), ZH_ERRORS["upstream_server_error"]),
    (Script(status=503), ZH_ERRORS["upstream_server_error"]),
    (Script(hang_before_headers=2.5), ZH_ERRORS["upstream_timeout"]),
    (Script(reply="cut here please", chunk_chars=4, cut_after=2), ZH_ERRORS["stream_interrupted"]),
    (Script(reply="bad chunk here", chunk_chars=4, malformed_after=2), ZH_ERRORS["upstream_bad_response"]),
    (Script(reply=""), ZH_ERRORS["empty_answer"]),
]


def turn_shown(driver, n, words=None):
    """Whether the page shows `question n` with an answer whose message has `words`; without `words`, what it
    shows (the question and the message) for the failure's message."""
    shown = driver.execute_script(
        "const q = document.querySelectorAll(\".chat-message[data-role='user']\")[arguments[0]];"
        f"const a = document.querySelectorAll(\"{ASSISTANT}\")[arguments[0]];"
        "const e = a && a.querySelector('.chat-error-text');"
        "return [q ? q.textContent : null, e ? e.textContent : null];", n)
    return shown if words is None else shown[0] == f"question {n}" and words in (shown[1] or "")


def test_every_upstream_fault_shows_a_localized_message_keeps_the_question_and_retries(dash_duo, upstream):
    start(dash_duo, upstream, REQUEST_TIMEOUT="1")
    dash_duo.find_element(f"#{ids.MULTI_TURN}").click()  # each question alone: failed turns stay visible
    for n, (script, words) in enumerate(PAGE_FAULTS):
        upstream.script = script
        type_and_send(dash_duo, f"question {n}")
        failed = wait_for_answer(dash_duo, n, status="error")
        # Read as one settled page: the question, then its answer's message (the previous answer's end and this
        # question's send both redraw the list, so a single early look may catch it mid-way).
        try:
            wait_until(dash_duo, lambda d: turn_shown(d, n, words))
        except TimeoutException:
            pytest.fail(f"fault {n}: the page shows (question, message) {turn_shown(dash_duo.driver, n)}")
        message = failed.find_element(By.CSS_SELECTOR, ".chat-error-text").text
        assert "scripted" not in message and "Traceback" not in message  # no upstream body, no stack trace
        assert failed.find_elements(By.CSS_SELECTOR, ".chat-retry")
    # A cut answer keeps its partial text, marked as interrupted.
    assert committed_history(dash_duo)[17]["content"] == "cut here"
    # Retry re-asks the last failed question without retyping: the failed pair is replaced.
    upstream.script = Script()
    last = len(PAGE_FAULTS) - 1
    answers(dash_duo)[-1].find_element(By.CSS_SELECTOR, ".chat-retry").click()
    assert answer_text(wait_for_answer(dash_duo, last)) == f"Answer to: question {last} (saw 0 earlier messages)"
    # Retrying an earlier failure asks again at the end: no later turn is removed.
    answers(dash_duo)[0].find_element(By.CSS_SELECTOR, ".chat-retry").click()
    assert answer_text(wait_for_answer(dash_duo, last + 1)) == "Answer to: question 0 (saw 0 earlier messages)"
    assert len(committed_history(dash_duo)) == 2 * (len(PAGE_FAULTS) + 1)


def test_unreachable_upstream_shows_a_message(dash_duo):
    dash_duo.start_server(build_app({"OPENAI_API_KEY": "sk-x", "OPENAI_BASE_URL": f"http://127.0.0.1:{free_port()}/v1"}))
    dash_duo.wait_for_element(f"#{ids.INPUT}")
    type_and_send(dash_duo, "anyone there?")
    failed = wait_for_answer(dash_duo, 0, status="error")
    assert ZH_ERRORS["upstream_unreachable"] in failed.text


def test_a_question_over_the_limit_is_refused_before_sending_and_kept(dash_duo, upstream):
    start(dash_duo, upstream, MAX_INPUT_CHARS="50")
    type_and_send(dash_duo, "x" * 60)
    wait_until(dash_duo, lambda d: ZH["tooLong"].format(n=60, max=50) in toast(d),
               message="no length warning")
    assert dash_duo.find_element(f"#{ids.INPUT}").get_attribute("value") == "x" * 60
    assert dash_duo.driver.find_elements(By.CSS_SELECTOR, ".chat-message") == []
    assert upstream.requests == []


def test_long_history_is_trimmed_and_the_user_is_told(dash_duo, upstream):
    start(dash_duo, upstream, CONTEXT_TOKENS="400", MAX_ANSWER_TOKENS="100")
    upstream.script = Script(reply="long answer " * 60)  # ~185 tokens each: two turns fill the window
    for n in range(3):
        type_and_send(dash_duo, f"turn {n}")
        wait_for_answer(dash_duo, n)
    note = answers(dash_duo)[2].find_element(By.CSS_SELECTOR, ".chat-note--trimmed").text
    assert ZH["trimmed"].format(n=2) in note
    sent = upstream.requests[-1]["body"]["messages"]
    assert sent[-1] == {"role": "user", "content": "turn 2"} and len(sent) == 3


def test_hostile_answers_execute_nothing_and_load_nothing_remote(dash_duo, upstream):
    start(dash_duo, upstream)
    leak_url = upstream.url.replace("/v1", "/leak.png?secret=1")
    upstream.script = Script(reply=HOSTILE.replace("LEAK_URL", leak_url), chunk_chars=7)
    type_and_send(dash_duo, "show me")
    answer = wait_for_answer(dash_duo, 0)
    body = answer.find_element(By.CSS_SELECTOR, ".chat-markdown")
    assert not [p for p in upstream.gets if p.startswith("/leak")]  # the remote image was never loaded
    for link in body.find_elements(By.CSS_SELECTOR, "a:not([href^='http'])"):
        link.click()  # clicking the neutralised links must run nothing
        dash_duo.driver.switch_to.window(dash_duo.driver.window_handles[0])
    with pytest.raises(NoAlertPresentException):
        dash_duo.driver.switch_to.alert.text
    assert dash_duo.driver.execute_script("return window.__xss") is None
    assert body.find_elements(By.CSS_SELECTOR, "script, iframe, img[src='x'], [onerror]") == []
    hrefs = dash_duo.driver.execute_script(
        "return [...arguments[0].querySelectorAll('a')].map(a => a.getAttribute('href'))", body.now())
    assert all(h.startswith(("http://", "https://", "#", "./")) for h in hrefs), hrefs
    assert "https://example.com/docs" in hrefs and "./about" in hrefs
    assert leak_url in hrefs  # the remote image is offered as a link instead
    assert "<script>window.__xss = 4</script>" in body.text  # raw HTML is shown as text


@pytest.mark.parametrize("leave", ["navigate away", "close the tab"])
def test_leaving_mid_answer_lets_the_server_finish_and_keep_it(dash_duo, upstream, leave):
    start(dash_duo, upstream)
    reply = " ".join(f"slow{i}" for i in range(200))
    upstream.script = Script(reply=reply, chunk_chars=5, delay=0.02)  # ~4 s if read to the end
    type_and_send(dash_duo, "long story")
    streaming = wait_for_answer(dash_duo, 0, status="streaming")
    wait_until(dash_duo, lambda d: "slow1" in streaming.text, message="no partial text")
    driver = dash_duo.driver
    if leave == "navigate away":
        driver.get("about:blank")
    else:
        page = driver.current_window_handle
        driver.switch_to.new_window("tab")
        driver.switch_to.window(page)
        driver.close()
        driver.switch_to.window(driver.window_handles[0])
    # The answer is the server's: nobody watching, it is still written to the end and kept.
    driver.get(dash_duo.server_url)
    assert answer_text(wait_for_answer(dash_duo, 0)) == reply
    assert len(upstream.requests) == 1  # one generation, read to its end by the server


def test_a_store_that_goes_away_is_said_on_the_page_and_the_question_stays(dash_duo, upstream, postgres):
    import sqlalchemy as sa

    admin = sa.create_engine(postgres.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text("CREATE DATABASE page_down_test"))
    admin.dispose()
    start(dash_duo, upstream, DATABASE_URL=postgres.url.rsplit("/", 1)[0] + "/page_down_test")
    type_and_send(dash_duo, "before")
    wait_for_answer(dash_duo, 0)
    postgres.stop()
    try:
        type_and_send(dash_duo, "while it is down")
        wait_until(dash_duo, lambda d: ZH_ERRORS["store_unavailable"] in toast(d), message="no message")
        assert dash_duo.find_element(f"#{ids.INPUT}").get_attribute("value") == "while it is down"
        assert "Traceback" not in dash_duo.driver.page_source
    finally:
        postgres.start()
    dash_duo.find_element(f"#{ids.SEND}").click()
    assert answer_text(wait_for_answer(dash_duo, 1)) == "Answer to: while it is down (saw 2 earlier messages)"
