"""The chat page's drawing callbacks (`show`, `send`), called by hand as the renderer does: a drawing patches only
what is new on top of the one it was computed for, and draws anew whatever was drawn for something else; a
conversation drawn mid-answer shows the text its viewers have, not the store's older partial."""

import json

import requests

from callbacks.chat import news
from components import ids
from testkit.app import upstream_env
from testkit.generations import ask, follow, live_events, text_of
from testkit.page_calls import callback_request
from testkit.upstream import Script
from testkit.waiting import wait_until


def finished(session, server, cid):
    """The conversation once its last answer is no longer streaming."""
    def done():
        found = session.get(f"{server.url}/api/conversations/{cid}").json()
        return found if found["messages"][-1]["status"] != "streaming" else None
    return wait_until(done, 30, "the answer to end")


def draw(session, server, changed, values):
    """The outputs `show` returns when `changed` fires it with `values` (the rest as the renderer has them)."""
    body = callback_request(server.app, changed, values, ids.HISTORY)
    response = session.post(f"{server.url}/_dash-update-component", json=body)
    assert response.status_code == 200, response.text[:300]
    return json.loads(response.text)["response"]


def page_session(server):
    """A browser-like session of the app's one user, and a new conversation of theirs."""
    session = requests.Session()
    session.headers["Origin"] = server.url  # the same-origin proof state changes need
    return session, session.post(f"{server.url}/api/conversations", json={}).json()["id"]


def operations(output):
    """A Patch's operations as (operation, location, the seqs of the messages it draws)."""
    def seqs(value):
        return [int(m["props"]["id"].removeprefix(ids.MESSAGE_PREFIX)) for m in (value if isinstance(value, list)
                                                                                 else [value])]
    return [(o["operation"], o["location"], seqs(o["params"]["value"])) for o in output["children"]["operations"]]


def test_an_ended_answer_and_a_turn_asked_since_are_patched_onto_the_drawing_they_were_computed_for(upstream,
                                                                                                    serve):
    server = serve(upstream_env(upstream))
    session, cid = page_session(server)
    upstream.script = Script(reply="slow " * 40, chunk_chars=5, delay=0.02)
    ask(session, server, cid, "first")
    current = {"id": cid, "window": 64, "v": 1}
    drawn = draw(session, server, f"{ids.CURRENT}.data", {f"{ids.CURRENT}.data": current})
    shown = drawn[ids.SHOWN]["data"]
    assert len(drawn[ids.HISTORY]["children"]) == 2 and shown["live"] and shown["count"] == 2
    first = finished(session, server, cid)["messages"]
    upstream.script = Script(reply="quick")
    ask(session, server, cid, "second")
    second = finished(session, server, cid)["messages"][-2:]

    # The first answer ended and a turn was asked since: the answer is drawn in its place, the turn appended.
    done, shown_data = f"{ids.DONE}.data", f"{ids.SHOWN}.data"
    outputs = draw(session, server, done, {done: {"at": 1}, shown_data: shown, f"{ids.CURRENT}.data": current})
    assert operations(outputs[ids.HISTORY]) == [("Assign", [1], [first[1]["seq"]])]
    assert operations(outputs[ids.RECENT]) == [("Extend", [], [m["seq"] for m in second])]
    after = outputs[ids.SHOWN]["data"]
    assert (after["count"], after["recent"], after["live"]) == (4, 2, False) and outputs[ids.STREAM]["data"] is None

    # Drawn again on top of that: nothing is new; the last answer drawn is not drawn twice.
    outputs = draw(session, server, done, {done: {"at": 2}, shown_data: after, f"{ids.CURRENT}.data": current})
    assert ids.HISTORY not in outputs and operations(outputs[ids.RECENT]) == [("Extend", [], [])]

    # A drawing made for another look (Markdown loaded since), or another version of the conversation: drawn anew.
    for values in ({f"{ids.MARKDOWN}.data": True}, {f"{ids.CURRENT}.data": {**current, "v": 2}}):
        outputs = draw(session, server, done, {done: {"at": 3}, shown_data: after, f"{ids.CURRENT}.data": current,
                                               **values})
        assert len(outputs[ids.HISTORY]["children"]) == 4 and outputs[ids.RECENT]["children"] == []
        assert outputs[ids.SHOWN]["data"]["recent"] == 0


def test_send_draws_its_turn_only_on_the_drawing_it_was_computed_for(upstream, serve):
    server = serve(upstream_env(upstream))
    session, cid = page_session(server)
    ask(session, server, cid, "first")
    finished(session, server, cid)
    current, current_data, shown_data = {"id": cid, "window": 64, "v": 1}, f"{ids.CURRENT}.data", f"{ids.SHOWN}.data"
    shown = draw(session, server, current_data, {current_data: current})[ids.SHOWN]["data"]
    send, box = f"{ids.SEND}.n_clicks", f"{ids.INPUT}.value"

    outputs = draw(session, server, send, {send: 1, box: "second", current_data: current, shown_data: shown})
    asked = session.get(f"{server.url}/api/conversations/{cid}").json()["messages"][-2:]
    assert operations(outputs[ids.RECENT]) == [("Extend", [], [m["seq"] for m in asked])]
    assert ids.HISTORY not in outputs and ids.CURRENT not in outputs and outputs[ids.INPUT]["value"] == ""
    after = outputs[ids.SHOWN]["data"]
    finished(session, server, cid)

    # The page changed what it draws for (here Markdown loaded): a drawing for that is on its way, and the turn is
    # left to `show`, drawn anew.
    outputs = draw(session, server, send, {send: 2, box: "third", current_data: current, shown_data: after,
                                           f"{ids.MARKDOWN}.data": True})
    assert ids.RECENT not in outputs and ids.HISTORY not in outputs
    assert outputs[ids.CURRENT]["data"]["id"] == cid and outputs[ids.CURRENT]["data"]["v"] != current["v"]


def test_what_is_new_is_told_only_from_the_last_message_drawn_for_the_same_view():
    def msg(seq, status="done"):
        return {"seq": seq, "status": status}

    key = ["c", 1, 64, True, False]
    live = {"last": 2, "live": True, "count": 2, "for": key}
    assert news(live, key, [msg(1), msg(2, "streaming")]) == (None, [])  # still streaming: nothing to draw
    assert news(live, key, [msg(1), msg(2), msg(3), msg(4)]) == (msg(2), [msg(3), msg(4)])
    assert news({**live, "live": False}, key, [msg(1), msg(2), msg(3)]) == (None, [msg(3)])
    assert news(live, key, [msg(5), msg(6), msg(7), msg(8)]) is None  # more changed than the tail shows: anew
    assert news(live, ["c", 1, 64, False, False], [msg(1), msg(2)]) is None  # drawn for another view
    assert news(None, key, [msg(1)]) is None and news({**live, "count": 0}, key, [msg(2)]) is None


def component(tree, component_id):
    """The component with this id in a drawn Dash tree (JSON), or None."""
    if isinstance(tree, list):
        return next((found for item in tree if (found := component(item, component_id))), None)
    if isinstance(tree, dict):
        props = tree.get("props") or {}
        return tree if props.get("id") == component_id else component(props.get("children"), component_id)
    return None


def test_a_conversation_drawn_mid_answer_shows_the_text_its_log_has(upstream, serve):
    server = serve(upstream_env(upstream))
    session, cid = page_session(server)
    reply = " ".join(f"w{i}" for i in range(2000))
    upstream.script = Script(reply=reply, chunk_chars=4, delay=0.01)
    gid = ask(session, server, cid, "a long one")
    events = []
    for event in live_events(follow(session, server, gid)):  # until the log is well ahead of the store's partial
        events.append(event)
        if len(text_of(events)) > 300:
            break
    seen = text_of(events)
    stored = session.get(f"{server.url}/api/conversations/{cid}").json()["messages"][-1]
    body = callback_request(server.app, f"{ids.CURRENT}.data", {f"{ids.CURRENT}.data": {"id": cid}}, ids.HISTORY)
    response = session.post(f"{server.url}/_dash-update-component", json=body)
    assert response.status_code == 200, response.text[:300]
    drawn = component(json.loads(response.text)["response"][ids.HISTORY]["children"], ids.answer(stored["seq"]))
    text = drawn["props"]["children"]
    assert text.startswith(seen) and reply.startswith(text)
    session.post(f"{server.url}/api/generations/{gid}/cancel")
