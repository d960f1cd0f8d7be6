"""The /api routes over the store: conversations, messages, settings, import and export. JSON in and out; every
lookup is scoped to the signed-in user, so another user's id is simply not found (404)."""

from datetime import datetime, timedelta, timezone

from flask import Blueprint, Response, jsonify, request

from chatcore import attachments, quotas, transfer, turns
from chatcore.errors import ChatError, bad_request
from chatcore.export import conversation_to_markdown, export_filename
from chatcore.store import conversations, shares, usage, users
from chatcore.strings import LANG_COOKIE, STRINGS, pick_language
from web import share_page
from web.api import error_response, json_body, not_found

SETTINGS_FIELDS = {"multiTurn": bool, "model": (str, type(None)), "systemPrompt": str, "temperature": (int, float),
                   "maxTokens": (int, type(None)), "historyTurns": int, "theme": str}


def check_settings(body) -> dict:
    """The page settings, each of the right type, or a 400."""
    for key, kind in SETTINGS_FIELDS.items():
        if key in body and (not isinstance(body[key], kind) or (kind is int and isinstance(body[key], bool))):
            raise bad_request("bad_setting", f"Setting {key} has the wrong type.")
    return body


def create_blueprint(auth, generations):
    """The store routes, for the user `auth` resolves (deleting a conversation stops its answer in `generations`)."""
    bp = Blueprint("conversations", __name__)
    db = auth.db

    @bp.errorhandler(ChatError)
    def chat_error(exc):
        """ChatErrors raised in these routes become OpenAI-style JSON errors."""
        return error_response(exc)

    @bp.errorhandler(conversations.ConversationError)
    @bp.errorhandler(users.UserError)
    def store_refused(exc):
        """The store's own refusals (a title too long, a bad role) are the caller's to fix: 400."""
        return error_response(bad_request("invalid_value", str(exc)))

    @bp.get("/api/conversations")
    def list_conversations():
        """The user's conversations, newest first; `?q=` searches titles and messages."""
        user = auth.require()
        return jsonify({"data": conversations.list_conversations(db, user["id"], request.args.get("q", ""))})

    @bp.post("/api/conversations")
    def create_conversation():
        """A new conversation (optionally titled)."""
        user = auth.require()
        body = json_body({"title"})
        return jsonify(conversations.create_conversation(db, user["id"], body.get("title", ""))), 201

    @bp.get("/api/conversations/<conversation_id>")
    def get_conversation(conversation_id):
        """One conversation with its messages (`?window=N`: the last N)."""
        user = auth.require()
        window = request.args.get("window", type=int)
        found = conversations.get_conversation(db, user["id"], conversation_id, window=window)
        if found is None:
            raise not_found()
        return jsonify(found)

    @bp.patch("/api/conversations/<conversation_id>")
    def rename_conversation(conversation_id):
        """Rename a conversation."""
        user = auth.require()
        body = json_body({"title"})
        if "title" not in body:
            raise bad_request("missing_field", "title is required.")
        renamed = conversations.rename_conversation(db, user["id"], conversation_id, body["title"])
        if renamed is None:
            raise not_found()
        return jsonify(renamed)

    @bp.delete("/api/conversations/<conversation_id>")
    def delete_conversation(conversation_id):
        """Delete a conversation and its messages."""
        user = auth.require()
        if not turns.forget(generations, db, user["id"], conversation_id):
            raise not_found()
        return jsonify({"deleted": True})

    @bp.get("/api/messages/<message_id>/attachments/<int:index>")
    def attachment(message_id, index):
        """One attachment of one of the user's messages: the re-encoded image, or the text read from the file."""
        user = auth.require()
        message = conversations.get_message(db, user["id"], message_id)
        files = (message or {}).get("attachments") or []
        if not 0 <= index < len(files):
            raise not_found()
        data, content_type = attachments.file_of(files[index])
        response = Response(data, content_type=content_type)
        # Shown in the page (never run: nosniff, and a sandbox for anything opened on its own); ids never change.
        response.headers["Content-Disposition"] = "inline"
        response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'; img-src 'self'"
        response.headers["Cache-Control"] = "private, max-age=86400, immutable"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @bp.get("/api/conversations/<conversation_id>/export")
    def export_conversation(conversation_id):
        """One conversation as a Markdown file (`?format=md`, default) or the JSON export format."""
        user = auth.require()
        found = conversations.get_conversation(db, user["id"], conversation_id)
        if found is None:
            raise not_found()
        now = datetime.now(timezone.utc)
        if request.args.get("format") == "json":
            response = jsonify(transfer.export_document([found], now))
            name = export_filename(now).replace(".md", ".json")
        else:
            lang = "en-US" if request.args.get("lang", "").startswith("en") else "zh-CN"
            markdown = conversation_to_markdown(found["messages"], now, lang=lang, title=found["title"])
            response = Response(markdown, mimetype="text/markdown")
            name = export_filename(now)
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    @bp.post("/api/conversations/<conversation_id>/share")
    def share_conversation(conversation_id):
        """A read-only link to a snapshot of the conversation as it is now (sharing again refreshes it)."""
        user = auth.require()
        token = shares.share(db, user["id"], conversation_id)
        if token is None:
            raise not_found()
        return jsonify({"url": f"{request.host_url}share/{token}"})

    @bp.delete("/api/conversations/<conversation_id>/share")
    def revoke_share(conversation_id):
        """Revoke the conversation's link: it answers 404 from now on."""
        user = auth.require()
        if not shares.revoke(db, user["id"], conversation_id):
            raise not_found()
        return jsonify({"revoked": True})

    @bp.get("/share/<token>")
    def shared_page(token):
        """The shared snapshot, for anyone with the link (no sign-in); the same 404 page for any unknown token."""
        snapshot = shares.shared(db, token)
        lang = pick_language(request.cookies.get(LANG_COOKIE))
        if snapshot is None:
            return Response("Not found", status=404, mimetype="text/plain", headers=share_page.HEADERS)
        return Response(share_page.render(snapshot, STRINGS[lang], lang), mimetype="text/html",
                        headers=share_page.HEADERS)

    @bp.get("/api/export")
    def export_all():
        """Every conversation of the user: the full backup, in the JSON export format."""
        user = auth.require()
        return jsonify(transfer.export_document(
            conversations.every_conversation(db, user["id"], transfer.MAX_CONVERSATIONS)))

    @bp.post("/api/import")
    def import_conversations():
        """Import an export file or backup (the browser's old IndexedDB copy too): checked whole, then stored."""
        user = auth.require()
        if (request.content_length or 0) > transfer.MAX_IMPORT_BYTES:
            raise ChatError(413, "import_too_large", f"The file is over {transfer.MAX_IMPORT_BYTES // 2**20} MB.")
        request.max_content_length = transfer.MAX_IMPORT_BYTES
        try:
            items = transfer.parse_export(request.get_data())
        except transfer.TransferError as exc:
            raise ChatError(400, exc.code, f"Import refused ({exc.detail or exc.code}); nothing was changed.") from None
        imported, skipped = conversations.import_conversations(db, user["id"], items)
        return jsonify({"imported": imported, "skipped": skipped})

    @bp.get("/api/usage")
    def my_usage():
        """The signed-in user's own usage: today and this month, and the last 30 days by day, model and hour."""
        user = auth.require()
        now = datetime.now(timezone.utc)
        totals = usage.by_user(db, now).get(user["id"], usage.NONE)
        since = int((now - timedelta(days=usage.DAYS)).timestamp() * 1000)
        mine = usage.report(db, since, user["id"])
        left = quotas.remaining(db, user["id"], quotas.limits_for(db, user["id"], auth.settings))
        return jsonify(totals | {key: mine[key] for key in ("per_model", "per_hour", "estimated")}
                       | {"per_day": mine["per_user"].get(user["name"], {}), "left": left})

    @bp.get("/api/settings")
    def get_settings():
        """The user's page settings."""
        return jsonify(users.get_settings(db, auth.require()["id"]))

    @bp.put("/api/settings")
    def put_settings():
        """Replace the user's page settings."""
        user = auth.require()
        settings = check_settings(json_body(SETTINGS_FIELDS))
        users.save_settings(db, user["id"], settings)
        return jsonify(settings)

    @bp.route("/api/<path:_rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def unknown_route(_rest):
        """Any other /api path is a JSON 404, not the page (Dash answers every path with the page)."""
        raise not_found()

    return bp
