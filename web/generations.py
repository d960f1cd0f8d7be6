"""The generation routes: ask in a conversation (the server generates the answer), follow an answer's events
from any event id, stop it. Thin: the logic is chatcore/generations.py."""

from flask import Blueprint, Response, jsonify, request

from chatcore.errors import ChatError
from chatcore.generations import POST_FIELDS
from web.api import error_response, json_body


def create_blueprint(auth, generations):
    """The routes over one Generations, for the user `auth` resolves."""
    bp = Blueprint("generations", __name__)

    @bp.errorhandler(ChatError)
    def chat_error(exc):
        """ChatErrors raised in these routes become OpenAI-style JSON errors."""
        return error_response(exc)

    @bp.post("/api/conversations/<conversation_id>/messages")
    def ask(conversation_id):
        """Store the question, start its answer on the server, answer 202 with the ids at once."""
        user = auth.require()
        return jsonify(generations.start(user["id"], conversation_id, json_body(POST_FIELDS))), 202

    @bp.get("/api/generations/<gid>/events")
    def events(gid):
        """The answer's events as SSE, after `Last-Event-ID` (or `?after=`)."""
        user = auth.require()
        last = request.headers.get("Last-Event-ID") or request.args.get("after")
        response = Response(generations.follow(user["id"], gid, last), content_type="text/event-stream")
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
        return response

    @bp.post("/api/generations/<gid>/cancel")
    def cancel(gid):
        """Stop the answer for every viewer, whichever instance generates it."""
        user = auth.require()
        return jsonify(generations.cancel(user["id"], gid))

    return bp
