"""The chat page's callbacks, called by hand as the renderer does: an answer that ends while the next question is
already asked (or drawn) never draws itself into another answer's place (`finish`); a conversation drawn mid-answer
shows the text its viewers have, not the store's older partial (`show`)."""

import json

import requests

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


def finish(session, server, answer, shown):
    """The outputs `finish` returns for `answer` ending while the page shows `shown`."""
    body = callback_request(server.app, f"{ids.DONE}.data", {f"{ids.DONE}.data": {"gid": answer["id"]},
                                                              f"{ids.SHOWN}.data": shown}, ids.HISTORY)
    response = session.post(f"{server.url}/_dash-update-component", json=body)
    assert response.status_code == 200, response.text[:300]
    return json.loads(response.text)["response"]


def page_session(server):
    """A browser-like session of the app's one user, and a new conversation of theirs."""
    session = requests.Session()
    session.headers["Origin"] = server.url  # the same-origin proof state changes need
    return session, session.post(f"{server.url}/api/conversations", json={}).json()["id"]


def test_an_answer_ending_after_the_next_question_draws_the_conversation_again(upstream, serve):
    server = serve(upstream_env(upstream))
    session, cid = page_session(server)
    session.post(f"{server.url}/api/conversations/{cid}/messages", json={"content": "first"})
    first = finished(session, server, cid)["messages"][-1]
    shown = {"id": cid, "updated_at": 0, "live": True, "count": 2, "recent": 0, "last": first["seq"]}

    # Ended as the last thing drawn: only its own place is patched.
    outputs = finish(session, server, first, shown)
    assert ids.HISTORY in outputs and ids.CURRENT not in outputs

    # The next question was asked before this answer's `finish` ran: the conversation is drawn again instead.
    session.post(f"{server.url}/api/conversations/{cid}/messages", json={"content": "second"})
    outputs = finish(session, server, first, shown)
    assert ids.CURRENT in outputs and ids.HISTORY not in outputs and ids.RECENT not in outputs

    # The second answer ends while the page still holds the first one's (stale) drawing: drawn again too.
    second = finished(session, server, cid)["messages"][-1]
    outputs = finish(session, server, second, shown)
    assert ids.CURRENT in outputs and ids.HISTORY not in outputs and ids.RECENT not in outputs


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
