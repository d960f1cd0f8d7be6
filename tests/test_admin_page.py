"""The admin page (/admin/): admins see users and usage charts and manage accounts; for anyone else every
route under /admin/ is 404, Dash's own callback route included."""

import json

import requests
from selenium.webdriver.common.by import By

from chatcore.store import create_engine, users
from components import ids
from testkit.accounts import PASSWORD, accounts, answered, signed_in
from testkit.app import build_app, upstream_env
from testkit.strings import ZH


def make_admin(env, name="alice"):
    """Promote `name` in the store behind env; returns the store."""
    db = create_engine(env["DATABASE_URL"])
    users.update_user(db, users.find_user(db, name)["id"], is_admin=True)
    return db


def fill_callback(admin, url):
    """The real request the admin page sends to fill its table: its outputs as Dash lists them."""
    dependencies = admin.get(f"{url}/admin/_dash-dependencies").json()
    fill = next(d for d in dependencies if f"{ids.ADMIN_USERS}.data" in d["output"])
    outputs = [{"id": o.split(".")[0], "property": o.split(".")[1]} for o in fill["output"].strip(".").split("...")]
    return {"output": fill["output"], "outputs": outputs, "changedPropIds": [f"{ids.ADMIN_REFRESH}.data"],
            "inputs": [{"id": ids.ADMIN_REFRESH, "property": "data", "value": 1}]}


def test_everything_under_admin_is_404_for_non_admins_including_callbacks(upstream, serve, tmp_path):
    env = accounts(tmp_path)
    make_admin(env)
    server = serve(upstream_env(upstream, **env))
    admin = signed_in(server, "alice")
    callback = fill_callback(admin, server.url)
    assert admin.get(f"{server.url}/admin/").status_code == 200
    data = admin.post(f"{server.url}/admin/_dash-update-component", json=callback)
    assert data.status_code == 200 and "bob" in json.dumps(data.json())
    for client in (signed_in(server, "bob"), requests.Session()):
        client.headers["Origin"] = server.url
        for response in (client.get(f"{server.url}/admin/"), client.get(f"{server.url}/admin/_dash-layout"),
                         client.get(f"{server.url}/admin/_dash-dependencies"),
                         client.post(f"{server.url}/admin/_dash-update-component", json=callback)):
            assert response.status_code == 404 and "bob" not in response.text and "alice" not in response.text


def test_an_admin_sees_users_and_charts_and_creates_an_account(dash_duo, upstream, tmp_path):
    env = accounts(tmp_path)
    db = make_admin(env)
    bob = users.find_user(db, "bob")["id"]
    answered(db, bob, 1234, "bob's secret plans")
    dash_duo.start_server(build_app(upstream_env(upstream, **env)))
    dash_duo.wait_for_element(f"#{ids.LOGIN_USERNAME}").send_keys("alice")
    dash_duo.find_element(f"#{ids.LOGIN_PASSWORD}").send_keys(PASSWORD["alice"])
    dash_duo.find_element(f"#{ids.LOGIN_SUBMIT}").click()
    dash_duo.wait_for_element(f"#{ids.ADMIN_LINK}").click()
    dash_duo.wait_for_contains_text(f"#{ids.ADMIN_USERS}", "1 / 1234")  # bob: one question, 1,234 tokens today
    dash_duo.wait_for_contains_text(f"#{ids.USAGE_HEAVIEST}", ZH["conversationHidden"])  # not alice's: no title
    assert "secret plans" not in dash_duo.find_element(f"#{ids.PAGE_ROOT}").text
    bars = dash_duo.driver.find_elements(By.CSS_SELECTOR, f"#{ids.USAGE_CHART_USERS} .trace.bars")
    assert bars, "the tokens-per-user chart has no bars"
    dash_duo.find_element(f"#{ids.ADMIN_NEW_NAME}").send_keys("carol")
    dash_duo.find_element(f"#{ids.ADMIN_NEW_PASSWORD}").send_keys("carol-password")
    dash_duo.find_element(f"#{ids.ADMIN_CREATE}").click()
    dash_duo.wait_for_text_to_equal(f"#{ids.ADMIN_MESSAGE}", ZH["adminDone"])
    dash_duo.wait_for_contains_text(f"#{ids.ADMIN_USERS}", "carol")
    assert users.authenticate(db, "carol", "carol-password")["is_admin"] is False


def test_a_member_sees_only_their_own_usage_page(dash_duo, upstream, tmp_path):
    env = accounts(tmp_path)
    db = make_admin(env)
    for name, title, tokens in (("alice", "alice's plans", 500), ("bob", "bob's plans", 70)):
        user_id = users.find_user(db, name)["id"]
        answered(db, user_id, tokens, title)
    dash_duo.start_server(build_app(upstream_env(upstream, **env)))
    dash_duo.wait_for_element(f"#{ids.LOGIN_USERNAME}").send_keys("bob")
    dash_duo.find_element(f"#{ids.LOGIN_PASSWORD}").send_keys(PASSWORD["bob"])
    dash_duo.find_element(f"#{ids.LOGIN_SUBMIT}").click()
    dash_duo.wait_for_element(f"#{ids.USAGE_LINK}").click()
    dash_duo.wait_for_contains_text(f"#{ids.USAGE_HEAVIEST}", "bob's plans")  # his own titles
    page = dash_duo.find_element(f"#{ids.PAGE_ROOT}").text
    assert "alice" not in page and "500" not in page
    assert dash_duo.driver.find_elements(By.CSS_SELECTOR, f"#{ids.USAGE_CHART_USERS} .trace.bars")
    assert requests.get(f"{dash_duo.server_url}/usage/").status_code == 404  # signed out
