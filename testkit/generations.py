"""A client of the server-owned generations: ask in a conversation, follow its events as SSE, read them."""

import json


def live_events(response):
    """The SSE events of a response as (id or None, data) pairs, as they arrive; comments (heartbeats) are left out."""
    return events_of_lines(response.iter_lines(decode_unicode=False, delimiter=b"\n"))


def complete_events(raw):
    """The events of bytes cut anywhere that a reload keeps: the complete ones (a partial last one is dropped)."""
    return list(events_of_lines(raw[:raw.rfind(b"\n\n") + 1].split(b"\n") if b"\n\n" in raw else []))


def events_of_lines(lines):
    """The (id or None, data) events of SSE lines (bytes, without their line ends)."""
    event_id, data = None, []
    for line in lines:
        if line.startswith(b"id: "):
            event_id = line[4:].decode()
        elif line.startswith(b"data: "):
            data.append(line[6:].decode())
        elif not line and data:
            yield event_id, "\n".join(data)
            event_id, data = None, []


def read_events(response):
    """All the SSE events of a response."""
    return list(live_events(response))


def text_of(events):
    """The answer text the chunk events carry."""
    return "".join(json.loads(data)["choices"][0]["delta"].get("content") or "" for _, data in events
                   if data.startswith("{") and json.loads(data).get("choices"))


def ending(events):
    """'[DONE]', or the error code of the last event."""
    data = events[-1][1]
    return data if data == "[DONE]" else json.loads(data)["error"]["code"]


def ask(session, server, conversation_id, content="hi", **fields):
    """Ask in a conversation; returns the generation id."""
    response = session.post(f"{server.url}/api/conversations/{conversation_id}/messages",
                            json={"content": content, "model": "scripted", **fields})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["generation_id"] == body["message_id"]
    return body["generation_id"]


def follow(session, server, gid, last_event_id=None, **kwargs):
    """GET the generation's events (from `last_event_id`); the response, streaming."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    return session.get(f"{server.url}/api/generations/{gid}/events", headers=headers, stream=True, timeout=60, **kwargs)
