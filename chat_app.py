"""Assemble the chat app: Dash page, callbacks and HTTP routes. Exposes `server` for gunicorn.

Run `python chat_app.py` (http://127.0.0.1:8050) or `python chat_app.py local` to send upstream
calls through the local proxy in PROXY_URL.
"""

import logging
import os
import sys
from datetime import timedelta

import dash
import feffery_antd_components as fac
from dash import dcc, html
from sqlalchemy.engine import make_url
from flask import has_request_context, make_response, redirect, request
from werkzeug.middleware.proxy_fix import ProxyFix

from web import api, compression
from web import auth as web_auth
from web import conversations as conversation_routes
from web import generations as generation_routes
from callbacks import chat as chat_callbacks
from callbacks import conversation as conversation_callbacks
from callbacks import export as export_callbacks
from callbacks import settings as settings_callbacks
from chatcore import redact
from chatcore.generations import Generations
from chatcore.providers import build_provider
from chatcore.service import ChatService
from chatcore.store import create_engine, migrate, sqlite_url
from components import access_code, conversation_list, header, input_bar, message_list
from components import settings as settings_drawer
from components.strings import ERRORS, PRESETS, STRINGS, pick_language
from config import find_embedded_model, load_settings

LANG_COOKIE = "chat-lang"
# Keep remote content out: answers may contain images pointing anywhere (a prompt-injected answer
# could leak data through an image URL), so images load only from here; the page cannot be framed.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "SAMEORIGIN",
    "Content-Security-Policy": "img-src 'self' data: blob:; frame-ancestors 'self'; object-src 'none'; base-uri 'self'",
}


def current_language():
    """The language of this page load: the cookie set by /lang/<code>, else Chinese."""
    return pick_language(request.cookies.get(LANG_COOKIE) if has_request_context() else None)


def defer_bundle(app, library):
    """Leave a component library's script out of the page (Dash then only serves it); return its URL.

    Dash puts a script tag on the page for every imported component library. Marking the entries `dynamic`
    (what Dash's own lazy chunks use) keeps them served, with the same fingerprinted, cached URLs, but not loaded;
    chat.js loads the script when it first needs the library. Changes the module's `_js_dist`, so it holds for
    every app in the process.
    """
    for entry in library._js_dist:
        entry.setdefault("dynamic", True)
    loaded = [dict(entry, dynamic=False) for entry in library._js_dist if entry["relative_package_path"].endswith(".js")]
    return app._collect_and_register_resources(app.scripts._resources._filter_resources(loaded))[0]


def page_config(settings, lang, prefix, markdown_bundle):
    """What chat.js needs, sent once per page load: strings, error texts, Markdown props and limits."""
    return {
        "lang": lang,
        "strings": STRINGS[lang],
        "errors": ERRORS[lang],
        "presets": PRESETS[lang],
        "markdownProps": message_list.MARKDOWN_PROPS,
        "markdownBundle": markdown_bundle,
        "maxInputChars": settings.max_input_chars,
        "models": list(settings.models),
        "defaultModel": settings.default_model,
        "apiUrl": f"{prefix}v1/chat/completions",
        "langUrl": f"{prefix}lang/",
        "accessCodeRequired": bool(settings.access_code),
    }


def create_app(settings=None):
    """Build the Dash app and its Flask server from settings (read from the environment by default)."""
    settings = settings or load_settings()
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    redact.install([settings.openai_api_key, settings.access_code, settings.secret_key,
                    make_url(database_url(settings)).password or "",
                    settings.redis_url and make_url(settings.redis_url).password or ""])

    provider = build_provider(settings, settings.embedded_model_path or find_embedded_model())
    service = ChatService(settings, provider)

    app = dash.Dash(__name__, title="在线问答机器人", compress=True, update_title=None)
    server = app.server
    server.json.ensure_ascii = False  # Chinese answers as UTF-8, not \u escapes
    prefix = app.config.requests_pathname_prefix
    markdown_bundle = defer_bundle(app, message_list.MARKDOWN_LIBRARY)

    def layout():
        """The page, built per load so the language cookie applies."""
        lang = current_language()
        strings = STRINGS[lang]
        return fac.AntdConfigProvider(
            id="app-theme",  # chat.js switches its algorithm between light and dark
            locale=lang.lower(),
            primaryColor="#1677ff",
            children=html.Div(
                id="chat-shell",
                className="chat-shell",
                lang=lang,
                children=[
                    conversation_list.render(strings),
                    html.Div(id="conv-backdrop", className="chat-backdrop"),
                    html.Div(className="chat-layout", children=[
                        header.render(strings),
                        message_list.render(strings, settings.uses_embedded_model),
                        input_bar.render(strings),
                    ]),
                    settings_drawer.render(strings, settings, lang),
                    access_code.render(strings),
                    *conversation_list.dialogs(strings),
                    dcc.Store(id="export-request"),  # the conversation to export, set on click
                    dcc.Store(id="chat-config", data=page_config(settings, lang, prefix, markdown_bundle)),
                    dcc.Download(id="export-download"),
                    html.Div(id="global-message"),
                ],
            ),
        )

    app.layout = layout
    # Dash keeps a copy of a layout function's result to validate callbacks in debug mode, and sends it in every
    # page (~18 KB raw); the layout here holds every callback id, so debug mode can check against the layout.
    app.validation_layout = None
    for callbacks in (chat_callbacks, conversation_callbacks, export_callbacks, settings_callbacks):
        callbacks.register(app)

    if settings.trusted_proxies:
        # Behind Render's or nginx's proxy, the client IP (for rate limits) is in X-Forwarded-For.
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies)
    db = create_engine(database_url(settings))
    migrate(db)
    auth = web_auth.Auth(settings, db)
    server.secret_key = web_auth.secret_key(settings)
    server.session_interface = web_auth.SessionInterface()
    server.config.update(SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_NAME="chat-session",
                         PERMANENT_SESSION_LIFETIME=timedelta(days=web_auth.SESSION_DAYS))
    server.before_request(auth.refuse_cross_site)
    server.register_blueprint(api.create_blueprint(service, auth))
    server.register_blueprint(web_auth.create_blueprint(auth, api.error_response))
    generations = Generations(service, db, settings.max_concurrent_answers, settings.redis_url)
    server.register_blueprint(generation_routes.create_blueprint(auth, generations, api.error_response))
    server.register_blueprint(conversation_routes.create_blueprint(auth, api.error_response))
    api.install_limits(server, settings)
    compression.install(server)

    @server.get("/lang/<code>")
    def set_language(code):
        """Remember the chosen language in a cookie and go back to the page."""
        response = make_response(redirect(prefix))
        response.set_cookie(LANG_COOKIE, pick_language(code), max_age=365 * 24 * 3600, samesite="Lax")
        return response

    @server.after_request
    def security_headers(response):
        """Add the security headers to every response (an answer stream, not a document, needs only nosniff)."""
        names = ["X-Content-Type-Options"] if response.mimetype == "text/event-stream" else SECURITY_HEADERS
        for name in names:
            response.headers.setdefault(name, SECURITY_HEADERS[name])
        return response

    logging.getLogger("chat").info("chat app ready: backend=%s models=%s", settings.backend_name,
                                   ",".join(settings.models))
    return app


def database_url(settings) -> str:
    """DATABASE_URL, or the SQLite file in DATA_DIR."""
    return settings.database_url or sqlite_url(settings.data_dir)


def apply_local_proxy(argv, environ, proxy_url):
    """`python chat_app.py local`: route upstream HTTP(S) calls through the local proxy (the original's switch)."""
    if "local" in argv[1:]:
        environ["HTTP_PROXY"] = environ["HTTPS_PROXY"] = proxy_url
        return True
    return False


def __getattr__(name):
    """Build `app`/`server` on first access (gunicorn's `chat_app:server`), not as an import side effect."""
    if name in ("app", "server"):
        globals()["app"] = built = create_app()
        globals()["server"] = built.server
        return globals()[name]
    raise AttributeError(name)


def user_command(argv, settings, stdin=sys.stdin, out=sys.stdout) -> int:
    """`user add NAME [--admin]` (password: one line on stdin) and `user list`; returns the exit status."""
    import argparse

    from chatcore.store import users

    parser = argparse.ArgumentParser(prog="python chat_app.py user", description="Manage accounts (AUTH=password).")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="create a user; the password is read from stdin (one line)")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="the user can manage other users")
    commands.add_parser("list", help="list users")
    args = parser.parse_args(argv)
    db = create_engine(database_url(settings))
    migrate(db)
    if args.command == "list":
        for user in users.list_users(db):
            flags = [flag for flag, on in (("admin", user["is_admin"]), ("disabled", user["disabled"])) if on]
            print(user["name"], *flags, file=out)
        return 0
    password = stdin.readline().rstrip("\r\n")
    try:
        users.add_user(db, args.name, password, is_admin=args.admin)
    except users.UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"created user {args.name}" + (" (admin)" if args.admin else ""), file=out)
    return 0


if __name__ == "__main__":
    chat_settings = load_settings()
    if sys.argv[1:2] == ["user"]:
        sys.exit(user_command(sys.argv[2:], chat_settings))
    # Before the app is built: its SDK client reads the proxy variables once, when it is created.
    local_mode = apply_local_proxy(sys.argv, os.environ, chat_settings.proxy_url)
    app = create_app(chat_settings)
    if local_mode:
        logging.getLogger("chat").info("local mode: upstream calls go through %s", chat_settings.proxy_url)
    app.run(host=chat_settings.host, port=chat_settings.port, debug=False, threaded=True)
