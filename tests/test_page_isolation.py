"""The chat page's callbacks, called by hand through /_dash-update-component as another signed-in user would: every
one that takes a conversation, message or generation id answers 404 for someone else's id and changes nothing."""

import json

import pytest

from callbacks.chat import drawn_for
from chatcore.store import conversations, create_engine, users
from components import ids
from testkit.accounts import accounts, signed_in
from testkit.app import upstream_env
from testkit.page_calls import callback_request


@pytest.fixture
def two_users(tmp_path, serve, upstream):
    """An AUTH=password app with alice (one answered conversation, its answer saved) and bob, both signed in."""
    env = accounts(tmp_path)
    server = serve(upstream_env(upstream, **env))
    alice, bob = signed_in(server, "alice"), signed_in(server, "bob")
    cid = alice.post(f"{server.url}/api/conversations", json={"title": "alice's secret"}).json()["id"]
    alice.post(f"{server.url}/api/conversations/{cid}/messages", json={"content": "private question"})
    found = alice.get(f"{server.url}/api/conversations/{cid}").json()
    while found["messages"][-1]["status"] == "streaming":  # the scripted answer takes a moment
        found = alice.get(f"{server.url}/api/conversations/{cid}").json()
    db = create_engine(env["DATABASE_URL"])
    return server, alice, bob, cid, db


READ_ONLY = {"draw the conversation", "draw a finished answer", "copy a message", "rename dialog", "export JSON",
             "export Markdown"}


def snapshot(db, cid):
    """Everything stored of alice's conversation, to check nothing changed."""
    return conversations.get_conversation(db, users.find_user(db, "alice")["id"], cid)


def test_every_callback_that_takes_an_id_answers_404_for_another_users_id(two_users):
    server, alice, bob, cid, db = two_users
    answer = alice.get(f"{server.url}/api/conversations/{cid}").json()["messages"][-1]
    before = snapshot(db, cid)
    current = {"id": cid, "window": 64}
    # "<id>.<prop>" keys, as Dash's renderer names what changed
    current_data, pending, action = f"{ids.CURRENT}.data", f"{ids.PENDING}.data", f"{ids.MESSAGE_ACTION}.data"
    rename, delete = f"{ids.RENAME_MODAL}.okCounts", f"{ids.DELETE_MODAL}.okCounts"
    clear, json_export, markdown_export = (f"{ids.CLEAR}.n_clicks", f"{ids.EXPORT_JSON}.n_clicks",
                                           f"{ids.EXPORT_MARKDOWN}.n_clicks")
    send, stop, done = f"{ids.SEND}.n_clicks", f"{ids.STOP}.n_clicks", f"{ids.DONE}.data"
    calls = {  # name: (the prop that changed, the values the callback is given, an output naming it)
        "draw the conversation": (current_data, {current_data: current}, ids.HISTORY),
        "ask in it": (send, {send: 1, f"{ids.INPUT}.value": "hi", current_data: current}, ""),
        "message action": (action, {action: {"action": "delete", "seq": answer["seq"]}, current_data: current}, ""),
        "copy a message": (action, {action: {"action": "copy", "seq": answer["seq"]}, current_data: current}, ""),
        "rename dialog": (pending, {pending: {"id": cid, "action": "rename"}}, ""),
        "rename": (rename, {rename: 1, f"{ids.RENAME_INPUT}.value": "pwned", pending: {"id": cid}}, ""),
        "delete": (delete, {delete: 1, pending: {"id": cid}}, ""),
        "clear": (clear, {clear: 1, current_data: current}, ""),
        "export JSON": (json_export, {json_export: 1, current_data: current}, ""),
        "export Markdown": (markdown_export, {markdown_export: 1, current_data: current}, ""),
        "stop": (stop, {stop: 1, f"{ids.STREAM}.data": {"gid": answer["id"]}}, ""),
        "draw a finished answer": (done, {done: {"gid": answer["id"]}, current_data: current, f"{ids.SHOWN}.data": {
            "id": cid, "count": 2, "live": True, "last": answer["seq"], "for": drawn_for(current, False, False)}},
                                   ids.HISTORY),
    }
    for name, (changed, values, output) in calls.items():
        body = callback_request(server.app, changed, values, output)
        response = bob.post(f"{server.url}/_dash-update-component", json=body)
        assert response.status_code == 404, (name, response.status_code, response.text[:200])
        assert "secret" not in response.text and "private" not in response.text, name
        assert snapshot(db, cid) == before, name
        if name in READ_ONLY:  # the owner gets an answer from the same call: only the id was refused
            assert alice.post(f"{server.url}/_dash-update-component", json=body).status_code == 200, name


def test_the_owner_can_do_what_the_other_user_cannot(two_users):
    server, alice, bob, cid, db = two_users
    body = callback_request(server.app, f"{ids.CURRENT}.data", {f"{ids.CURRENT}.data": {"id": cid, "window": 64}},
                            ids.HISTORY)
    mine = alice.post(f"{server.url}/_dash-update-component", json=body)
    assert mine.status_code == 200 and "private question" in mine.text
    assert bob.post(f"{server.url}/_dash-update-component", json=body).status_code == 404
    # A made-up id and a non-id are the same 404 (nothing says which ids exist).
    for other in ("0" * 32, "../../etc/passwd", 42):
        body["inputs"][0]["value"] = {"id": other, "window": 64}
        response = alice.post(f"{server.url}/_dash-update-component", json=body)
        assert response.status_code == 404, other
    assert json.loads(mine.text)["response"][ids.TITLE]["children"] == "alice's secret"


def test_the_sync_tick_treats_another_users_conversation_as_one_that_is_gone(two_users):
    # The tick cannot answer 404 for a conversation this page showed and another browser deleted: that must move the
    # page to a new chat. Someone else's id gets exactly that answer too, with nothing of it in the response.
    server, alice, bob, cid, db = two_users
    before = snapshot(db, cid)
    tick = f"{ids.SYNC}.n_intervals"

    def sync(session, conversation_id, live=False):
        values = {tick: 1, f"{ids.SHOWN}.data": {"id": conversation_id, "updated_at": 0, "live": live},
                  f"{ids.CURRENT}.data": {"id": conversation_id}}
        body = callback_request(server.app, tick, values, ids.CURRENT)
        response = session.post(f"{server.url}/_dash-update-component", json=body)
        assert response.status_code == 200, response.text[:200]
        return response.text, json.loads(response.text)["response"]

    text, outputs = sync(bob, cid)
    assert "secret" not in text and "private" not in text
    assert outputs[ids.CURRENT]["data"]["id"] is None  # the same as for an id that does not exist
    assert sync(bob, "0" * 32)[1][ids.CURRENT]["data"]["id"] is None
    # A page that thinks it streams the answer gets its end from the tick: alice's, never bob's.
    answer_id = before["messages"][-1]["id"]
    assert sync(alice, cid, live=True)[1][ids.DONE]["data"]["gid"] == answer_id
    text, outputs = sync(bob, cid, live=True)
    assert answer_id not in text and "secret" not in text and ids.DONE not in outputs
    assert outputs[ids.CURRENT]["data"]["id"] is None
    assert snapshot(db, cid) == before


def test_the_page_comes_with_its_own_users_latest_conversation_drawn(two_users):
    server, alice, bob, cid, _db = two_users
    mine = alice.get(f"{server.url}/_dash-layout")
    assert mine.status_code == 200 and "private question" in mine.text and "alice's secret" in mine.text
    shown = next(c["props"]["data"] for c in mine.json()["props"]["children"] if c["props"].get("id") == ids.SHOWN)
    assert shown["id"] == cid and shown["count"] == 2 and shown["for"][0] == cid
    theirs = bob.get(f"{server.url}/_dash-layout")
    assert theirs.status_code == 200 and "private" not in theirs.text and "secret" not in theirs.text
