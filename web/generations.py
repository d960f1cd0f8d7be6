"""The generation routes: ask in a conversation (the server generates the answer), follow an answer's events
from any event id, stop it. Thin: the logic is chatcore/generations.py."""

from flask import Blueprint, Response, jsonify, request

from chatcore.errors import ChatError
from chatcore.generations import POST_FIELDS
from web.api import MAX_BODY_BYTES, error_response, json_body

EVENT_STREAM = "text/event-stream"


def event_stream(events, status=200, headers=None) -> Response:
    """SSE events as a response that no cache keeps and no proxy holds back."""
    response = Response(events, status=status, content_type=EVENT_STREAM, headers=headers)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


def create_blueprint(auth, generations):
    """The routes over one Generations, for the user `auth` resolves."""
    bp = Blueprint("generations", __name__)
    # A question may carry its files as base64: room for all of them, plus the usual body.
    max_bytes = generations.attachment_limits.request_bytes(MAX_BODY_BYTES)

    @bp.errorhandler(ChatError)
    def chat_error(exc):
        """ChatErrors raised in these routes become OpenAI-style JSON errors."""
        return error_response(exc)

    @bp.post("/api/conversations/<conversation_id>/messages")
    def ask(conversation_id):
        """Store the question, start its answer on the server, answer 202 with the ids at once; with `Accept:
        text/event-stream`, 202 with the ids in headers and the answer's events as the body (one request instead
        of two; closing it does not stop the answer, which GET …/events resumes)."""
        user = auth.require()
        # Refused by its declared size before it is read (and a chunked body is cut at the same size).
        if (request.content_length or 0) > max_bytes:
            raise ChatError(413, "body_too_large", f"The request body is over {max_bytes // 2**20} MB.")
        request.max_content_length = max_bytes
        started = generations.start(user["id"], conversation_id, json_body(POST_FIELDS))
        if request.accept_mimetypes.best == EVENT_STREAM:
            return event_stream(generations.follow(user["id"], started["generation_id"], None), 202,
                                {"X-Generation-Id": started["generation_id"], "X-Question-Id": started["question_id"]})
        return jsonify(started), 202

    @bp.get("/api/generations/<gid>/events")
    def events(gid):
        """The answer's events as SSE, after `Last-Event-ID` (or `?after=`)."""
        user = auth.require()
        last = request.headers.get("Last-Event-ID") or request.args.get("after")
        return event_stream(generations.follow(user["id"], gid, last))

    @bp.post("/api/generations/<gid>/cancel")
    def cancel(gid):
        """Stop the answer for every viewer, whichever instance generates it."""
        user = auth.require()
        return jsonify(generations.cancel(user["id"], gid))

    return bp
