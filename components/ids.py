"""Every DOM id of the pages, in one place: layouts, callbacks, tests and benchmarks use these names, and chat.js gets
the ones it needs in the page config (BROWSER). The strings are a contract (other people's tests drive them):
never change one."""

# The chat page's contract ids (DESIGN.md): the box, Send and Stop, the messages, the seed's controls.
INPUT = "chat-input"
SEND = "chat-send"
STOP = "chat-stop"
MESSAGES = "chat-messages"
MULTI_TURN = "multi-round-switch"
EXPORT_MARKDOWN = "export-markdown"
CLEAR = "clear-conversation"
ATTACH = "chat-attach"

# The page's frame: the shell (its class opens the phone drawer), the one toast holder, and what is drawn with
# feffery-antd-components once its bundle is loaded after the first screen (the dialogs and the settings drawer,
# under their theme provider).
APP_THEME = "app-theme"
OVERLAYS = "chat-overlays"
SHELL = "chat-shell"
BACKDROP = "conv-backdrop"
GLOBAL_MESSAGE = "global-message"
DOWNLOAD = "export-download"

# The header.
SIDER_TOGGLE = "conv-toggle"
TITLE = "chat-title"
EXPORT_JSON = "export-json"
SETTINGS_OPEN = "settings-open"
ACCOUNT = "account-name"
ADMIN_LINK = "admin-link"
USAGE_LINK = "usage-link"
LOGOUT = "logout-button"

# The input bar, above and below the box.
EDIT_BANNER = "chat-edit-banner"
EDIT_TEXT = "chat-edit-text"
EDIT_CANCEL = "chat-edit-cancel"
ATTACH_LIST = "chat-attach-list"
ATTACH_CHIPS = "chat-attach-chips"
ATTACH_CLEAR = "chat-attach-clear"
USAGE_LEFT = "usage-left"

# The message area.
SCROLL = "chat-scroll"
EARLIER = "chat-earlier"
WELCOME = "chat-welcome"
HISTORY = "chat-history"  # inside MESSAGES: the conversation as drawn
RECENT = "chat-recent"  # inside MESSAGES, after HISTORY: the turns asked since it was drawn

# One message's parts, by its seq (chat.js fills them in while an answer streams).
MESSAGE_PREFIX = "chat-msg-"
ANSWER_PREFIX = "chat-md-"
THINK_PREFIX = "chat-think-"
THINK_LABEL_PREFIX = "chat-think-label-"
THINK_TEXT_PREFIX = "chat-think-text-"


def message(seq):
    """The message with this seq."""
    return f"{MESSAGE_PREFIX}{seq}"


def answer(seq):
    """An answer's text (Markdown once fmc is loaded)."""
    return f"{ANSWER_PREFIX}{seq}"


def think(seq):
    """An answer's thinking block."""
    return f"{THINK_PREFIX}{seq}"


def think_label(seq):
    """The thinking block's summary ("Thinking…", "Thought for N s")."""
    return f"{THINK_LABEL_PREFIX}{seq}"


def think_text(seq):
    """The thinking itself."""
    return f"{THINK_TEXT_PREFIX}{seq}"


# Stores and the timer the callbacks and chat.js share (what each holds: chat_app.py's layout).
CURRENT = "chat-current"
SHOWN = "chat-shown"
STREAM = "chat-stream"
DONE = "chat-done"
EDIT = "chat-edit"
COPY = "chat-copy"
MESSAGE_ACTION = "msg-action"
MARKDOWN = "chat-markdown"
ANTD = "chat-antd"
DARK = "chat-dark"
CONFIG = "chat-config"
SYNC = "chat-sync"

# The conversation list and its dialogs.
SIDER = "conv-sider"
NEW_CHAT = "conv-new"
SEARCH = "conv-search"
LIST = "conv-list"
LIST_SIG = "conv-list-sig"
PICK = "conv-pick"
PENDING = "conv-pending"
CHANGED = "conv-changed"
RENAME_MODAL = "conv-rename-modal"
RENAME_INPUT = "conv-rename-input"
DELETE_MODAL = "conv-delete-modal"
DELETE_TEXT = "conv-delete-text"

# The settings drawer.
SETTINGS_DRAWER = "settings-drawer"
MODEL = "model-select"
PRESET = "settings-preset"
SYSTEM_PROMPT = "settings-system-prompt"
TEMPERATURE = "settings-temperature"
MAX_TOKENS = "settings-max-tokens"
HISTORY_TURNS = "settings-history-turns"
LANGUAGE = "settings-language"
THEME = "settings-theme"
BACKUP_EXPORT = "backup-export"
BACKUP_IMPORT = "backup-import"

# The access-code dialog (ACCESS_CODE set).
ACCESS_CODE_MODAL = "access-code-modal"
ACCESS_CODE_INPUT = "access-code-input"

# The sign-in page (/login/).
LOGIN_USERNAME = "login-username"
LOGIN_PASSWORD = "login-password"
LOGIN_SUBMIT = "login-submit"
LOGIN_MESSAGE = "login-message"
LOGIN_SETUP = "login-setup"
LOGIN_LOCATION = "login-location"

# The admin page (/admin/); ADMIN_ACTION is the "type" of its action buttons' pattern-matching ids.
ADMIN_USERS = "admin-users"
ADMIN_NEW_NAME = "admin-new-name"
ADMIN_NEW_PASSWORD = "admin-new-password"
ADMIN_NEW_IS_ADMIN = "admin-new-is-admin"
ADMIN_CREATE = "admin-create"
ADMIN_USER_SELECT = "admin-user-select"
ADMIN_RESET_PASSWORD = "admin-reset-password"
ADMIN_ACTION = "admin-action"
ADMIN_MESSAGE = "admin-message"
ADMIN_REFRESH = "admin-refresh"

# The usage pages' frame and charts (the admin page's too, and /usage/).
PAGE_THEME = "page-theme"
PAGE_ROOT = "page-root"
PAGE_THEME_SWITCH = "page-theme-switch"
USAGE_ESTIMATED = "usage-estimated"
USAGE_CHART_USERS = "usage-chart-users"
USAGE_CHART_MODELS = "usage-chart-models"
USAGE_CHART_HOURS = "usage-chart-hours"
USAGE_HEAVIEST = "usage-heaviest"

# What chat.js and attach.js use, sent in the page config as `config.ids` (tests/test_ids.py checks the scripts
# name only these).
BROWSER = {name: globals()[name] for name in (
    "INPUT", "SEND", "ATTACH", "SHELL", "BACKDROP", "GLOBAL_MESSAGE", "SCROLL", "EARLIER",
    "MESSAGE_PREFIX", "ANSWER_PREFIX", "THINK_PREFIX", "THINK_LABEL_PREFIX", "THINK_TEXT_PREFIX",
    "DONE", "MESSAGE_ACTION", "MARKDOWN", "ANTD", "DARK", "PICK", "PENDING", "CHANGED", "SYNC")}
