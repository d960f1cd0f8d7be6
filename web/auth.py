"""Who is asking: the implicit owner (AUTH=none), a signed-in account (AUTH=password), or the user a trusted
proxy names (AUTH=header); per-user API tokens; same-origin proof for state changes; login throttling."""

import hmac
import ipaddress
import os
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, g, jsonify, redirect, request, session
from flask.sessions import SecureCookieSessionInterface
from limits import parse as parse_limit
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from chatcore.errors import ChatError, bad_request
from chatcore.store import users
from web.api import error_response, json_body

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
LOGIN_FAILURES = "10/minute"  # per IP and per user name
SESSION_DAYS = 30


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the Secure flag whenever the request came over TLS (also via a proxy)."""

    def get_cookie_secure(self, app):
        """Secure behind TLS, so the cookie still works on plain-http home installs."""
        return request.is_secure


def secret_key(settings) -> str:
    """SECRET_KEY, or one generated once and kept (owner-only) in DATA_DIR so sessions survive restarts."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.data_dir) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Written whole under a private name, then linked into place: a worker starting at the same moment
        # never reads a half-written key, and the first one linked wins.
        draft = path.with_name(f".secret_key.{os.getpid()}")
        with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(draft)
    return path.read_text().strip()


def _bearer():
    """The token in `Authorization: Bearer …`, or ''."""
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header[:7].lower() == "bearer " else ""


def cross_site() -> bool:
    """True when a browser says the request comes from another site (Sec-Fetch-Site, else Origin).

    Browsers send one or both on every POST; a client with neither is not a browser, so no other site's page
    can have sent it with this user's cookies.
    """
    site = request.headers.get("Sec-Fetch-Site")
    if site:
        return site not in ("same-origin", "none")
    origin = request.headers.get("Origin")
    return bool(origin) and urlsplit(origin).netloc != request.host


class Auth:
    """The app's sign-in rules for one AUTH mode, over the store."""

    def __init__(self, settings, db):
        self.settings, self.db = settings, db
        self.mode = settings.auth
        self._proxies = [ipaddress.ip_network(a, strict=False) for a in settings.trusted_proxy_addresses]
        self._limiter = MovingWindowRateLimiter(storage_from_string(settings.rate_limit_storage_uri))
        self._failures = parse_limit(LOGIN_FAILURES)
        self._owner = None

    def owner(self):
        """The implicit single user of AUTH=none (created once, then kept: no query per request)."""
        if self._owner is None:
            self._owner = users.ensure_user(self.db, users.OWNER, is_admin=True)
        return self._owner

    def _from_trusted_proxy(self) -> bool:
        """True when the connection itself comes from a trusted proxy address (not a forwarded claim)."""
        peer = request.environ.get("werkzeug.proxy_fix.orig", {}).get("REMOTE_ADDR") or request.remote_addr
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in network for network in self._proxies)

    def resolve(self):
        """The user making this request, or None (cached for the request)."""
        if "user" in g:
            return g.user
        g.user = None
        token = _bearer()
        if token.startswith(users.TOKEN_PREFIX):
            g.user = users.user_for_token(self.db, token)
        elif self.mode == "none":
            if not self.settings.access_code or session.get("access") or self._is_access_code(token):
                g.user = self.owner()
        elif self.mode == "password":
            user = users.get_user(self.db, session.get("uid")) if session.get("uid") else None
            if user and not user["disabled"] and user["session_version"] == session.get("v"):
                g.user = user
        elif self.mode == "header":
            name = request.headers.get(self.settings.auth_header, "").strip()
            if name and self._from_trusted_proxy():
                try:
                    user = users.ensure_user(self.db, name)
                except users.UserError:
                    user = None
                g.user = user if user and not user["disabled"] else None
        return g.user

    def _is_access_code(self, given: str) -> bool:
        """True when `given` is the configured ACCESS_CODE (compared in constant time)."""
        return hmac.compare_digest(given.encode(), self.settings.access_code.encode())

    def require(self):
        """The user, or a 401 ChatError saying what is missing: the access code (AUTH=none) or a sign-in."""
        user = self.resolve()
        if user is None and self.mode == "none":
            raise ChatError(401, "invalid_access_code", "A valid access code is required.",
                            error_type="authentication_error")
        if user is None:
            raise ChatError(401, "not_signed_in", "Sign in first.", error_type="authentication_error")
        return user

    def refuse_cross_site(self):
        """Refuse a state change another site's page made a browser send (CSRF); a Bearer token proves itself."""
        if request.method in UNSAFE_METHODS and not _bearer() and cross_site():
            return error_response(ChatError(403, "cross_origin", "Cross-origin requests may not change anything.",
                                            error_type="permission_error"))
        return None

    def _throttled(self, name) -> bool:
        """True when this IP or this user name has failed too often lately."""
        keys = (("login-ip", request.remote_addr or ""), ("login-name", name.lower()))
        return not all(self._limiter.test(self._failures, *key) for key in keys)

    def _failed(self, name):
        """Count a failed sign-in against the IP and the user name."""
        for key in (("login-ip", request.remote_addr or ""), ("login-name", name.lower())):
            self._limiter.hit(self._failures, *key)

    def login(self, name, password):
        """Sign in with a password (or, with AUTH=none, the access code); sets the session cookie or raises."""
        name = name.strip() if isinstance(name, str) else ""
        if self._throttled(name):
            raise ChatError(429, "too_many_attempts", "Too many failed sign-ins; try again in a minute.",
                            error_type="rate_limit_error", retry_after=60)
        if self.mode == "none":
            if self.settings.access_code and self._is_access_code(str(password)):
                session.clear()
                session.update(access=True)
                session.permanent = True
                return self.owner()
            user = None
        else:
            user = users.authenticate(self.db, name, password) if self.mode == "password" else None
        if user is None:
            self._failed(name)
            # The same answer for an unknown user and a wrong password (and both cost one hash check).
            raise ChatError(401, "bad_credentials", "Wrong user name or password.", error_type="authentication_error")
        self.start_session(user)
        return user

    def start_session(self, user):
        """Put the signed-in user in a fresh session cookie."""
        session.clear()
        session.update(uid=user["id"], v=user["session_version"])
        session.permanent = True
        users.touch(self.db, user["id"])

    def logout(self):
        """Forget the session (the cookie is cleared on this response)."""
        session.clear()

    def needs_setup(self) -> bool:
        """True while AUTH=password has no user yet: the first visitor creates the admin account."""
        return self.mode == "password" and not users.has_users(self.db)


def install(server, auth):
    """Sessions (signed cookies, HttpOnly, SameSite=Lax), the cross-site refusal and the /api/auth routes."""
    server.secret_key = secret_key(auth.settings)
    server.session_interface = SessionInterface()
    server.config.update(SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_NAME="chat-session",
                         PERMANENT_SESSION_LIFETIME=timedelta(days=SESSION_DAYS))
    server.before_request(auth.refuse_cross_site)
    server.register_blueprint(create_blueprint(auth))


def guard_chat_page(server, auth, login_prefix):
    """AUTH=password: signed-out visitors of the chat page go to the sign-in page; its data routes answer 401."""

    @server.before_request
    def signed_in_or_sign_in_page():
        """Send the page to the sign-in form; refuse the chat page's layout and callbacks."""
        if auth.resolve() is not None:
            return None
        if request.path == "/":
            return redirect(login_prefix)
        if request.path in ("/_dash-layout", "/_dash-update-component"):
            return error_response(ChatError(401, "not_signed_in", "Sign in first.",
                                                 error_type="authentication_error"))
        return None


def create_blueprint(auth):
    """The /api/auth routes."""
    bp = Blueprint("auth", __name__)

    def public(user):
        """What a client may know about its own user."""
        return {"id": user["id"], "name": user["name"], "is_admin": user["is_admin"]}

    @bp.post("/api/auth/login")
    def login():
        """Sign in; 200 with the user and a session cookie, 401, or 429."""
        try:
            body = json_body({"username", "password"})
            return jsonify({"user": public(auth.login(body.get("username", ""), body.get("password", "")))})
        except ChatError as exc:
            return error_response(exc)

    @bp.post("/api/auth/logout")
    def logout():
        """Sign out (forget the session cookie)."""
        auth.logout()
        return jsonify({"ok": True})

    @bp.post("/logout")
    def logout_form():
        """Sign out from the page's form, then back to the sign-in page."""
        auth.logout()
        return redirect("/")

    @bp.post("/api/auth/setup")
    def setup():
        """Create the first account (an admin) while there is none; afterwards this route is gone (404)."""
        try:
            if not auth.needs_setup():
                raise ChatError(404, "not_found", "Not found.")
            body = json_body({"username", "password"})
            try:
                user = users.add_first_user(auth.db, body.get("username", ""), body.get("password", ""))
            except users.UserError as exc:
                raise bad_request("bad_user", str(exc)) from None
            if user is None:
                raise ChatError(404, "not_found", "Not found.")
            auth.start_session(user)
            return jsonify({"user": public(user)})
        except ChatError as exc:
            return error_response(exc)

    @bp.get("/api/auth/me")
    def me():
        """The signed-in user, or 401."""
        try:
            return jsonify({"user": public(auth.require()), "auth": auth.mode})
        except ChatError as exc:
            return error_response(exc)

    @bp.post("/api/auth/tokens")
    def new_token():
        """A new personal API token for `Authorization: Bearer` (shown once)."""
        try:
            user = auth.require()
            return jsonify({"token": users.create_token(auth.db, user["id"])}), 201
        except ChatError as exc:
            return error_response(exc)

    return bp
