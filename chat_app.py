"""Assemble the chat app: Dash page, callbacks and HTTP routes. Exposes `server` for gunicorn.

Run `python chat_app.py` (http://127.0.0.1:8050) or `python chat_app.py local` to send upstream
calls through the local proxy in PROXY_URL.
"""

import logging
import os
import sys
from pathlib import Path

import dash
import feffery_antd_components as fac
from dash import dcc, html
from sqlalchemy.engine import make_url
from flask import has_request_context, make_response, redirect, request
from werkzeug.middleware.proxy_fix import ProxyFix

from web import admin, api, compression
from web import auth as web_auth
from web import conversations as conversation_routes
from web import generations as generation_routes
from callbacks import chat as chat_callbacks
from callbacks import conversation as conversation_callbacks
from callbacks import admin as admin_callbacks
from callbacks import export as export_callbacks
from callbacks import login as login_callbacks
from callbacks import overlays as overlay_callbacks
from callbacks import settings as settings_callbacks
from callbacks import usage_charts as usage_chart_callbacks
from callbacks.page import Page
from chatcore import quotas, redact, transfer
from chatcore.answer_logs import STALE_SECONDS
from chatcore.generations import Generations
from chatcore.providers import build_providers
from chatcore.service import ChatService
from chatcore.store import conversations, create_engine, migrate, sqlite_url
from chatcore.strings import ERRORS, LANG_COOKIE, STRINGS, pick_language
from components import conversation_list, header, ids, input_bar, login, message_list
from components import admin as admin_page
from components import usage_charts
from config import load_settings

# Keep remote content out: answers may contain images pointing anywhere (a prompt-injected answer
# could leak data through an image URL), so images load only from here; the page cannot be framed.
ADMIN_PREFIX = "/admin/"
LOGIN_PREFIX = "/login/"
USAGE_PREFIX = "/usage/"
ASSET_CACHE_SECONDS = 365 * 24 * 3600  # a fingerprinted asset's URL never serves another file
SYNC_SECONDS = 4  # how often the page checks for changes made in the user's other browsers
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "SAMEORIGIN",
    "Content-Security-Policy": "img-src 'self' data: blob:; frame-ancestors 'self'; object-src 'none'; base-uri 'self'",
}


def current_language():
    """The language of this page load: the cookie set by /lang/<code>, else Chinese."""
    return pick_language(request.cookies.get(LANG_COOKIE) if has_request_context() else None)


def page_head(app):
    """The page's <head>: its <title> in the visitor's language (Dash's own `title` is one for the whole app), and
    the layout and callbacks the renderer fetches first asked for at once.

    Dash's renderer asks for both only once its scripts have run; a `preload` has them on their way meanwhile, and
    the renderer's own fetch (same URL, mode and credentials) takes the preloaded response.
    """
    dash_page = app.interpolate_index
    prefix = app.config.requests_pathname_prefix
    preloads = "".join(f'<link rel="preload" href="{prefix}{path}" as="fetch" crossorigin="anonymous">'
                       for path in ("_dash-layout", "_dash-dependencies"))
    app.interpolate_index = lambda **parts: dash_page(**{
        **parts, "title": STRINGS[current_language()]["title"], "metas": parts.get("metas", "") + preloads})


def defer_bundle(app, library):
    """Leave a component library's script out of this app's page (Dash then only serves it); return its URL.

    Dash puts a script tag on the page for every imported component library. Marking the library's entries
    `dynamic` (what Dash's own lazy chunks use) keeps them served, with the same fingerprinted, cached URLs, but
    not loaded; chat.js loads the script when the page needs the library. Only this app's page changes: the
    sign-in and admin pages, other Dash apps of the process, still load it at once.
    """
    namespace = library.__name__
    every_script = app.scripts.get_all_scripts

    def scripts(dev_bundles=False):
        """The app's scripts, with the library's marked dynamic."""
        return [dict(s, dynamic=True) if s.get("namespace") == namespace else s for s in every_script(dev_bundles)]

    app.scripts.get_all_scripts = scripts
    loaded = [dict(entry, dynamic=False) for entry in library._js_dist
              if entry["relative_package_path"].endswith(".js") and "async" not in entry]
    return app._collect_and_register_resources(app.scripts._resources._filter_resources(loaded))[0]


def page_config(settings, lang, prefix, bundles, theme):
    """What chat.js needs, sent once per page load: a few strings, the two deferred bundles, the user's theme and
    the routes it reads."""
    strings = STRINGS[lang]
    return {
        "strings": {key: strings[key] for key in ("copied", "copyFailed", "imported", "thoughtFor")},
        "errors": {key: ERRORS[lang][key] for key in ("default", "store_unavailable", "not_signed_in")},
        "markdownBundle": bundles[message_list.MARKDOWN_LIBRARY],
        "antdBundle": bundles[fac],  # the dialogs and the settings drawer, drawn once it is loaded
        "theme": theme,
        "exportFormat": {"format": transfer.FORMAT, "version": transfer.VERSION},  # the old browser copy's import
        "prefix": prefix,
        # An answer's events stream silent this long is dropped and resumed: a running answer's has an event or a
        # heartbeat every few seconds, and the server calls a log quiet this long dead.
        "silentMs": int(STALE_SECONDS * 1000),
        "langUrl": f"{prefix}lang/",
        "lang": lang,
        "ids": ids.BROWSER,  # the ids chat.js and attach.js use
    }


def create_app(settings=None):
    """Build the Dash app and its Flask server from settings (read from the environment by default)."""
    settings = settings or load_settings()
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    redact.install([*settings.secrets, make_url(database_url(settings)).password or "",
                    settings.redis_url and make_url(settings.redis_url).password or ""])
    logging.getLogger("httpx2").setLevel(logging.WARNING)  # its INFO line per request names the upstream URL

    providers = build_providers(settings)
    service = ChatService(settings, providers)
    db = create_engine(database_url(settings))
    migrate(db)
    auth = web_auth.Auth(settings, db)

    generations = Generations(service, db, settings.max_concurrent_answers, Path(settings.data_dir) / "live",
                              settings.redis_url,
                              limits=lambda user_id: quotas.limits_for(db, user_id, settings))
    page = Page(auth, generations, settings, providers, current_language)  # what the page's callbacks share
    # The drawer and the dialogs join the page after the first screen (callbacks/overlays.py), so some callbacks'
    # ids are not in the first layout.
    app = dash.Dash(__name__, compress=True, update_title=None, on_error=page.failed,
                    suppress_callback_exceptions=True)
    page_head(app)
    server = app.server
    server.json.ensure_ascii = False  # Chinese answers as UTF-8, not \u escapes
    prefix = app.config.requests_pathname_prefix
    # Neither is needed for the first screen (plain HTML and dcc): chat.js loads both after it.
    bundles = {library: defer_bundle(app, library) for library in (fac, message_list.MARKDOWN_LIBRARY)}

    def layout():
        """The page, built per load so the language cookie and the signed-in user (their settings, their
        latest conversation) apply."""
        lang = current_language()
        strings = STRINGS[lang]
        # Signed-out visitors never get here with AUTH=password (web/auth.py sends them to the sign-in page).
        # Dash also calls this once without a request, to learn the layout's ids.
        signed_in = auth.resolve() if has_request_context() else None
        user = signed_in if auth.mode == "password" else None  # the header names accounts, not the implicit owner
        left = input_bar.limits_and_left(auth, signed_in["id"], strings)[1] if signed_in else ""
        prefs = page.preferences(signed_in and signed_in["id"])
        latest = conversations.list_conversations(db, signed_in["id"], limit=1) if signed_in else []
        current_id = latest[0]["id"] if latest else None
        current, dark = {"id": current_id, "window": message_list.WINDOW}, prefs["theme"] == "dark"
        shell = html.Div(
            id=ids.SHELL,
            className="chat-shell",
            lang=lang,
            children=[
                conversation_list.render(strings, conversation_list.items(
                    db, signed_in and signed_in["id"], current_id, "", strings)),
                html.Div(id=ids.BACKDROP, className="chat-backdrop"),
                html.Div(className="chat-layout", children=[
                    header.render(strings, prefs["multiTurn"], user),
                    message_list.render(strings, settings.uses_embedded_model),
                    input_bar.render(strings, left),
                ]),
                html.Div(id=ids.OVERLAYS),  # the dialogs and the settings drawer (callbacks/overlays.py)
                # The conversation on screen ({id, window}); the page opens on the latest one.
                dcc.Store(id=ids.CURRENT, data=current),
                dcc.Store(id=ids.SHOWN),  # what is drawn: {id, updated_at, live, count, recent, last, for}
                dcc.Store(id=ids.STREAM),  # the generation chat.js follows: {gid, seq, markdown}
                dcc.Store(id=ids.DONE),  # set by chat.js when the answer it followed ends: {gid, at}
                dcc.Store(id=ids.EDIT),  # the question being edited: {seq, n}
                dcc.Store(id=ids.COPY),  # text for chat.js to put on the clipboard
                dcc.Store(id=ids.MESSAGE_ACTION),  # {action, seq}: a message button chat.js saw clicked
                dcc.Store(id=ids.MARKDOWN, data=False),  # fmc's bundle is loaded (set by chat.js)
                dcc.Store(id=ids.ANTD, data=False),  # fac's bundle is loaded (set by chat.js)
                # Dark or light; chat.js corrects it at once when the theme follows the system's.
                dcc.Store(id=ids.DARK, data=dark),
                dcc.Store(id=ids.CONFIG, data=page_config(settings, lang, prefix, bundles, prefs["theme"])),
                # Other browsers of the same user: a change there shows here within a few seconds.
                dcc.Interval(id=ids.SYNC, interval=SYNC_SECONDS * 1000),
                dcc.Download(id=ids.DOWNLOAD),
                html.Div(id=ids.GLOBAL_MESSAGE),
            ],
        )
        if signed_in:  # the conversation comes drawn with the page: no callback's round trip before it shows
            drawn = chat_callbacks.draw(page, current, False, dark)
            for (component_id, prop), value in zip(chat_callbacks.SHOW, drawn):
                setattr(shell[component_id], prop, value)
        return shell

    app.layout = layout
    # Dash keeps a copy of a layout function's result to validate callbacks in debug mode, and sends it in every
    # page (~18 KB raw); the layout here holds every callback id, so debug mode can check against the layout.
    app.validation_layout = None

    if settings.trusted_proxies:
        # Behind Render's or nginx's proxy, the client IP (for rate limits) is in X-Forwarded-For.
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies)
    web_auth.install(server, auth)
    server.register_blueprint(api.create_blueprint(service, auth))
    server.register_blueprint(admin.create_blueprint(auth))
    dash_apps = [app, *mount_extra_pages(server, auth)]
    server.register_blueprint(generation_routes.create_blueprint(auth, generations))
    for callbacks in (chat_callbacks, conversation_callbacks, export_callbacks, settings_callbacks,
                      overlay_callbacks):
        callbacks.register(app, page)
    server.register_blueprint(conversation_routes.create_blueprint(auth, generations))
    api.install_limits(server, settings)
    compression.install(server, Path(settings.data_dir) / "bundles")

    @server.get("/lang/<code>")
    def set_language(code):
        """Remember the chosen language in a cookie and go back to the page."""
        response = make_response(redirect(prefix))
        response.set_cookie(LANG_COOKIE, pick_language(code), max_age=365 * 24 * 3600, samesite="Lax")
        return response

    assets = tuple(f"{a.config.routes_pathname_prefix}{a.config.assets_url_path.strip('/')}/" for a in dash_apps)

    @server.after_request
    def cache_fingerprinted_assets(response):
        """Let browsers keep an asset asked for with Dash's fingerprint (`?m=` its file's time) for a year.

        Flask serves assets with `no-cache`, and Flask-Compress's ETags never match again, so every load fetched
        chat.js, attach.js and style.css again, and a reload waited a round trip for them before the page's scripts
        could run. A changed file gets a new fingerprint, so a kept copy is never stale.
        """
        if request.path.startswith(assets) and request.args.get("m") and response.status_code == 200:
            response.cache_control.no_cache = None
            response.cache_control.public = True
            response.cache_control.max_age = ASSET_CACHE_SECONDS
            response.cache_control.immutable = True
        return response

    @server.after_request
    def security_headers(response):
        """Add the security headers to every response (an answer stream, not a document, needs only nosniff)."""
        names = ["X-Content-Type-Options"] if response.mimetype == "text/event-stream" else SECURITY_HEADERS
        for name in names:
            response.headers.setdefault(name, SECURITY_HEADERS[name])
        return response

    # Dash sets each of its apps up on the first request to the server (callback maps, script tags, a check of the
    # layout). Done now, once: under gunicorn this is the master, and the workers it forks share the result
    # instead of each building its own (~10 MiB a worker). Dash calls it `_setup_server` and has no public name.
    for dash_app in dash_apps:
        dash_app._setup_server()
    # What start_background() starts: nothing runs beside requests until the app is in the process that serves.
    server.extensions["chat.background"] = (providers.start, generations.start_background)
    server.extensions["chat.stop_background"] = generations.stop_background
    # The start-up's database connections (migrations) are closed: under gunicorn this is the master, which forks
    # the workers next, and a connection must not be shared by two processes. Each worker opens its own.
    db.dispose()
    logging.getLogger("chat").info("chat app ready: backend=%s models=%s", settings.backend_name,
                                   ",".join(settings.models))
    return app


def start_background(server):
    """Start the app's work beside requests in this process: the embedded model's load, the "auto" model lists'
    reads, the generations' heartbeat and Stop listener (Redis pub/sub, or the Stop files of the other workers).

    Once in each process that serves, after any fork (a thread does not go on in a forked child): gunicorn's
    `post_worker_init` calls it in every worker (the app itself is built once, in the master), and
    `python chat_app.py` calls it itself.
    """
    for start in server.extensions["chat.background"]:
        start()


def stop_background(server):
    """End the loops start_background() started (the answers' heartbeat, Stop listener, merger, log reader): for an
    app closed in a process that goes on, as the tests' apps are (a worker's end ends them anyway)."""
    server.extensions["chat.stop_background"]()


def mount_page(server, prefix, title, layout, register):
    """A page of its own: a second Dash app under `prefix` on the same server, so none of its callbacks or
    components ride along with the chat page (and chat.js, the chat page's script, stays out of it)."""
    page = dash.Dash(__name__, server=server, url_base_pathname=prefix, assets_ignore=r".*\.js$",
                     update_title=None, title=title)
    page.layout = layout
    page.validation_layout = None
    register(page)
    return page


def mount_extra_pages(server, auth):
    """The sign-in page (AUTH=password), the admin page (admins only) and the usage page (signed-in users);
    returns their Dash apps."""
    pages = []
    if auth.mode == "password":
        web_auth.guard_chat_page(server, auth, LOGIN_PREFIX)

        def login_layout():
            """The sign-in form, or the first-account form while there is no user."""
            lang = current_language()
            return fac.AntdConfigProvider(login.render(STRINGS[lang], setup=auth.needs_setup()),
                                          locale=lang.lower(), primaryColor="#1677ff")

        pages.append(mount_page(server, LOGIN_PREFIX, "Sign in", login_layout,
                                lambda page: login_callbacks.register(page, auth, current_language)))
    admin.guard_page(server, auth, ADMIN_PREFIX)

    def admin_layout():
        """The admin page in the visitor's language."""
        lang = current_language()
        return admin_page.render(STRINGS[lang], lang)

    pages.append(mount_page(server, ADMIN_PREFIX, "Admin", admin_layout,
                            lambda page: admin_callbacks.register(page, auth, current_language)))
    admin.guard_page(server, auth, USAGE_PREFIX, admins_only=False)

    def usage_layout():
        """The signed-in user's own usage charts."""
        lang = current_language()
        return usage_charts.own_usage(STRINGS[lang], lang)

    pages.append(mount_page(server, USAGE_PREFIX, "Usage", usage_layout,
                            lambda page: usage_chart_callbacks.register(page, auth, current_language, everyone=False)))
    return pages


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
    """`user add NAME [--admin]`, `user passwd NAME` (password: one line on stdin), `user list`, and
    `user disable|enable|admin|unadmin NAME`; returns the exit status."""
    import argparse

    from chatcore.store import users

    parser = argparse.ArgumentParser(prog="python chat_app.py user", description="Manage accounts (AUTH=password).")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="create a user; the password is read from stdin (one line)")
    add.add_argument("--admin", action="store_true", help="the user can manage other users")
    commands.add_parser("list", help="list users")
    helps = {"passwd": "set a new password, read from stdin (one line)", "disable": "stop the user signing in",
               "enable": "let a disabled user sign in again", "admin": "make the user an admin",
               "unadmin": "make the user a normal user (never the last admin)"}
    for name, help_text in helps.items():
        commands.add_parser(name, help=help_text).add_argument("name")
    add.add_argument("name")
    args = parser.parse_args(argv)
    db = create_engine(database_url(settings))
    migrate(db)
    if args.command == "list":
        for user in users.list_users(db):
            flags = [flag for flag, on in (("admin", user["is_admin"]), ("disabled", user["disabled"])) if on]
            print(user["name"], *flags, file=out)
        return 0
    try:
        if args.command == "add":
            users.add_user(db, args.name, stdin.readline().rstrip("\r\n"), is_admin=args.admin)
        else:
            user = users.find_user(db, args.name)
            if user is None:
                raise users.UserError(f"There is no user {args.name!r}.")
            if args.command == "passwd":
                users.set_password(db, user["id"], stdin.readline().rstrip("\r\n"))
            else:
                users.update_user(db, user["id"], **users.CHANGES[args.command])
    except users.UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{args.command}: {args.name}", file=out)
    return 0


if __name__ == "__main__":
    chat_settings = load_settings()
    if sys.argv[1:2] == ["user"]:
        sys.exit(user_command(sys.argv[2:], chat_settings))
    # Before the app is built: its SDK client reads the proxy variables once, when it is created.
    local_mode = apply_local_proxy(sys.argv, os.environ, chat_settings.proxy_url)
    app = create_app(chat_settings)
    start_background(app.server)
    if local_mode:
        logging.getLogger("chat").info("local mode: upstream calls go through %s", chat_settings.proxy_url)
    app.run(host=chat_settings.host, port=chat_settings.port, debug=False, threaded=True)
