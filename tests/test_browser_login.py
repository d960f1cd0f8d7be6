"""Browser tests of signing in (AUTH=password): the first account, a wrong password, sign in, sign out."""

from selenium.webdriver.common.keys import Keys

from components import ids
from testkit.accounts import PASSWORD, accounts
from testkit.app import build_app, upstream_env
from testkit.browser import type_and_send, wait_for_answer
from testkit.strings import ZH


def fill_in(dash_duo, name, password):
    """Type a user name and password and press the submit button."""
    dash_duo.wait_for_element(f"#{ids.LOGIN_USERNAME}").send_keys(name)
    dash_duo.find_element(f"#{ids.LOGIN_PASSWORD}").send_keys(password)
    dash_duo.find_element(f"#{ids.LOGIN_SUBMIT}").click()


def test_a_wrong_password_says_so_and_the_right_one_opens_the_chat(dash_duo, upstream, tmp_path):
    dash_duo.start_server(build_app(upstream_env(upstream, **accounts(tmp_path))))
    dash_duo.wait_for_text_to_equal(".login-title", ZH["loginTitle"])
    fill_in(dash_duo, "alice", "not-the-password")
    dash_duo.wait_for_text_to_equal(f"#{ids.LOGIN_MESSAGE}", ZH["loginFailed"])
    password = dash_duo.find_element(f"#{ids.LOGIN_PASSWORD}")
    password.send_keys(Keys.CONTROL, "a")
    password.send_keys(Keys.BACKSPACE)
    password.send_keys(PASSWORD["alice"])
    dash_duo.find_element(f"#{ids.LOGIN_SUBMIT}").click()
    dash_duo.wait_for_text_to_equal(f"#{ids.ACCOUNT}", "alice")
    type_and_send(dash_duo, "signed in?")
    wait_for_answer(dash_duo, 0)  # the model route accepts the session cookie
    dash_duo.find_element(f"#{ids.LOGOUT}").click()
    dash_duo.wait_for_text_to_equal(".login-title", ZH["loginTitle"])


def test_the_first_visitor_creates_the_admin_account_in_the_page(dash_duo, upstream, tmp_path):
    dash_duo.start_server(build_app(upstream_env(upstream, AUTH="password", DATA_DIR=str(tmp_path))))
    dash_duo.wait_for_text_to_equal(".login-title", ZH["setupTitle"])
    fill_in(dash_duo, "mum", "short")
    dash_duo.wait_for_contains_text(f"#{ids.LOGIN_MESSAGE}", "8")  # the password rule, not a silent failure
    dash_duo.find_element(f"#{ids.LOGIN_PASSWORD}").send_keys("-but-now-long-enough")
    dash_duo.find_element(f"#{ids.LOGIN_SUBMIT}").click()
    dash_duo.wait_for_text_to_equal(f"#{ids.ACCOUNT}", "mum")


def test_two_people_in_two_browsers_each_see_only_their_own(dash_duo, upstream, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from testkit.browser import answer_text, browser, fetch_json

    dash_duo.start_server(build_app(upstream_env(upstream, **accounts(tmp_path))))
    fill_in(dash_duo, "alice", PASSWORD["alice"])
    dash_duo.wait_for_text_to_equal(f"#{ids.ACCOUNT}", "alice")
    type_and_send(dash_duo, "alice's private question")
    assert answer_text(wait_for_answer(dash_duo, 0)).startswith("Answer to: alice's private question")
    alices = fetch_json(dash_duo, "/api/conversations")["data"][0]["id"]

    bob = browser()
    try:
        bob.get(dash_duo.server_url)
        WebDriverWait(bob, 15).until(lambda d: d.find_elements(By.CSS_SELECTOR, f"#{ids.LOGIN_USERNAME}"))
        bob.find_element(By.CSS_SELECTOR, f"#{ids.LOGIN_USERNAME}").send_keys("bob")
        bob.find_element(By.CSS_SELECTOR, f"#{ids.LOGIN_PASSWORD}").send_keys(PASSWORD["bob"])
        bob.find_element(By.CSS_SELECTOR, f"#{ids.LOGIN_SUBMIT}").click()
        WebDriverWait(bob, 15).until(lambda d: d.find_elements(By.CSS_SELECTOR, f"#{ids.ACCOUNT}"))
        WebDriverWait(bob, 15).until(
            lambda d: d.find_element(By.CSS_SELECTOR, f"#{ids.LIST}").text == ZH["noConversations"])
        # Bob's page asked to show alice's conversation (as a crafted click would): nothing of it appears.
        bob.execute_script("window.dash_clientside.set_props(arguments[1], {data: {id: arguments[0], at: 1}})",
                           alices, ids.PICK)
        WebDriverWait(bob, 5).until(lambda d: d.find_elements(By.CSS_SELECTOR, f"#{ids.INPUT}"))
        assert "alice" not in bob.find_element(By.CSS_SELECTOR, f"#{ids.MESSAGES}").text
        assert "alice's private" not in bob.page_source
        status = bob.execute_async_script(
            "fetch(`/api/conversations/${arguments[0]}`).then((r) => arguments[1](r.status))", alices)
        assert status == 404
    finally:
        bob.quit()
    # Alice still has hers, untouched.
    assert [c["id"] for c in fetch_json(dash_duo, "/api/conversations")["data"]] == [alices]
