"""The admin API: list users with their usage, create one, reset a password, disable, make admin.

Everyone who is not a signed-in admin gets 404, as if these routes did not exist.
"""

from datetime import datetime, timezone

from flask import Blueprint, abort, jsonify, request

from chatcore import quotas
from chatcore.errors import ChatError, bad_request
from chatcore.store import usage, users
from web.api import error_response, json_body, not_found


def create_blueprint(auth):
    """The /api/admin routes."""
    bp = Blueprint("admin", __name__)
    db = auth.db

    @bp.errorhandler(ChatError)
    def chat_error(exc):
        """ChatErrors become OpenAI-style JSON errors."""
        return error_response(exc)

    @bp.errorhandler(users.UserError)
    def user_refused(exc):
        """A name taken, a password too short, the last admin: the caller's to fix."""
        return error_response(bad_request("invalid_value", str(exc)))

    @bp.before_request
    def admins_only():
        """404 for anyone but an admin (signed out included): the routes' existence is not revealed."""
        user = auth.resolve()
        if user is None or not user["is_admin"]:
            raise not_found()

    @bp.get("/api/admin/users")
    def list_users():
        """Every user with role, status, last seen, and messages/tokens today and this month."""
        data = [{key: value for key, value in u.items() if key != "session_version"}
                for u in usage.users_with_usage(db, datetime.now(timezone.utc))]
        return jsonify({"data": data})

    @bp.post("/api/admin/users")
    def create_user():
        """A new account."""
        body = json_body({"name", "password", "is_admin"})
        user = users.add_user(db, body.get("name", ""), body.get("password", ""), bool(body.get("is_admin")))
        return jsonify({key: user[key] for key in ("id", "name", "is_admin", "disabled")}), 201

    @bp.patch("/api/admin/users/<user_id>")
    def change_user(user_id):
        """Reset the password, disable or re-enable, make or unmake admin (never the last enabled admin)."""
        body = json_body({"password", "disabled", "is_admin", "limits"})
        if users.get_user(db, user_id) is None:
            raise not_found()
        for key in ("disabled", "is_admin"):
            if key in body and not isinstance(body[key], bool):
                raise bad_request("invalid_value", f"{key} must be true or false.")
        if "limits" in body:
            try:
                quotas.set_override(db, user_id, body["limits"])
            except ValueError as exc:
                raise bad_request("invalid_value", str(exc)) from None
        if "password" in body:
            users.set_password(db, user_id, body["password"])
        user = users.update_user(db, user_id, is_admin=body.get("is_admin"), disabled=body.get("disabled"))
        return jsonify({key: user[key] for key in ("id", "name", "is_admin", "disabled")})

    return bp


def guard_page(server, auth, prefix, admins_only=True):
    """Everything under a page's prefix (its HTML, layout and callbacks) is 404 for anyone it is not for: signed-out
    visitors, and non-admins when `admins_only`."""

    @server.before_request
    def only_for_its_users():
        """Refuse before Dash sees the request."""
        if request.path.startswith(prefix):
            user = auth.resolve()
            if user is None or (admins_only and not user["is_admin"]):
                abort(404)
