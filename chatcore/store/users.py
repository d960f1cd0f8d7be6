"""Users, their passwords, API tokens and settings. Passwords are scrypt hashes (werkzeug); tokens are kept as sha256."""

import hashlib
import re
import secrets
import uuid

import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash

from .engine import now_ms
from .schema import api_tokens, user_settings, users

NAME = re.compile(r"^[\w.@+-]{1,64}$")  # letters (any script), digits and . @ + - _
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 1024  # hashing a megabyte-long "password" is a cheap way to burn CPU
TOKEN_PREFIX = "chat_"
# Checked against when the user name is unknown, so both failures cost one hash and look alike.
_DUMMY_HASH = generate_password_hash("not a real password")
OWNER = "owner"  # the one implicit user when AUTH=none


class UserError(ValueError):
    """A user name or password that cannot be used; the message says why."""


def _public(row) -> dict:
    """A user as the app sees it (never the password hash)."""
    return {"id": row.id, "name": row.name, "is_admin": row.is_admin, "disabled": row.disabled,
            "session_version": row.session_version, "created_at": row.created_at, "last_seen_at": row.last_seen_at}


def check_name(name: str) -> str:
    """The user name, stripped, or UserError."""
    name = (name or "").strip()
    if not NAME.match(name):
        raise UserError("A user name is 1-64 letters, digits or . @ + - _")
    return name


def check_password(password: str) -> str:
    """The password, or UserError when it is too short or too long."""
    if not isinstance(password, str) or not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise UserError(f"A password is {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters.")
    return password


def _insert(connection, name, password, is_admin):
    """Insert one user row and return it."""
    user_id = uuid.uuid4().hex
    connection.execute(users.insert().values(
        id=user_id, name=name, password_hash=generate_password_hash(password) if password else None,
        is_admin=is_admin, disabled=False, session_version=1, created_at=now_ms()))
    return connection.execute(users.select().where(users.c.id == user_id)).one()


def add_user(db, name, password=None, is_admin=False) -> dict:
    """Create a user; UserError if the name is taken or bad."""
    name = check_name(name)
    if password is not None:
        check_password(password)
    try:
        with db.begin() as connection:
            return _public(_insert(connection, name, password, is_admin))
    except sa.exc.IntegrityError:
        raise UserError("That user name is taken.") from None


def add_first_user(db, name, password) -> dict | None:
    """Create the first user, an admin, only while there is no user at all; None when someone was first."""
    name, password = check_name(name), check_password(password)
    with db.begin() as connection:
        if db.dialect.name == "postgresql":
            connection.execute(sa.text("LOCK TABLE users IN EXCLUSIVE MODE"))
        # Inserting first takes SQLite's write lock, so a racing second sign-up counts two rows and backs out.
        row = _insert(connection, name, password, True)
        if connection.execute(sa.select(sa.func.count()).select_from(users)).scalar() > 1:
            connection.rollback()
            return None
        return _public(row)


def has_users(db) -> bool:
    """True once any user exists."""
    with db.connect() as connection:
        return connection.execute(sa.select(users.c.id).limit(1)).first() is not None


def ensure_user(db, name, is_admin=False) -> dict:
    """The user with this name, created on first sight (AUTH=header and the implicit owner)."""
    name = check_name(name)
    for _ in range(2):  # a racing first request may create it between our read and our insert
        with db.connect() as connection:
            row = connection.execute(users.select().where(users.c.name == name)).first()
        if row:
            return _public(row)
        try:
            with db.begin() as connection:
                return _public(_insert(connection, name, None, is_admin))
        except sa.exc.IntegrityError:
            continue
    raise UserError("Could not create the user.")


def get_user(db, user_id) -> dict | None:
    """The user with this id, or None."""
    with db.connect() as connection:
        row = connection.execute(users.select().where(users.c.id == user_id)).first()
    return _public(row) if row else None


def list_users(db) -> list[dict]:
    """Every user, by name."""
    with db.connect() as connection:
        return [_public(row) for row in connection.execute(users.select().order_by(users.c.name))]


def authenticate(db, name, password) -> dict | None:
    """The enabled user with this name and password, or None; unknown names cost the same hash check."""
    with db.connect() as connection:
        row = connection.execute(users.select().where(users.c.name == (name or "").strip())).first()
    stored = row.password_hash if row is not None and row.password_hash else _DUMMY_HASH
    valid = check_password_hash(stored, (password or "")[:MAX_PASSWORD_CHARS])
    if row is None or not row.password_hash or not valid or row.disabled:
        return None
    return _public(row)


def set_password(db, user_id, password):
    """Change a password; sessions signed in with the old one stop working."""
    check_password(password)
    with db.begin() as connection:
        connection.execute(users.update().where(users.c.id == user_id).values(
            password_hash=generate_password_hash(password), session_version=users.c.session_version + 1))


def _enabled_admins(connection) -> int:
    """How many admins can still sign in."""
    return connection.execute(sa.select(sa.func.count()).select_from(users).where(
        users.c.is_admin.is_(True), users.c.disabled.is_(False))).scalar()


def update_user(db, user_id, is_admin=None, disabled=None) -> dict | None:
    """Make or unmake admin, disable or re-enable; never leaves no enabled admin. None if there is no such user."""
    values = {key: value for key, value in (("is_admin", is_admin), ("disabled", disabled)) if value is not None}
    if disabled:
        values["session_version"] = users.c.session_version + 1  # signed-in sessions end now
    with db.begin() as connection:
        if db.dialect.name == "postgresql":  # two admins demoting each other at once must not both succeed
            connection.execute(sa.text("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE"))
        if not connection.execute(users.update().where(users.c.id == user_id).values(**values)).rowcount:
            return None
        if _enabled_admins(connection) == 0:
            connection.rollback()
            raise UserError("There must always be at least one enabled admin.")
        return _public(connection.execute(users.select().where(users.c.id == user_id)).one())


# The account changes an admin can make, by name (shared by the CLI and the admin page).
CHANGES = {"disable": {"disabled": True}, "enable": {"disabled": False}, "admin": {"is_admin": True},
           "unadmin": {"is_admin": False}}


def find_user(db, name) -> dict | None:
    """The user with this name, or None."""
    with db.connect() as connection:
        row = connection.execute(users.select().where(users.c.name == (name or "").strip())).first()
    return _public(row) if row else None


def touch(db, user_id):
    """Record that the user was seen now."""
    with db.begin() as connection:
        connection.execute(users.update().where(users.c.id == user_id).values(last_seen_at=now_ms()))


def _token_hash(token: str) -> str:
    """The stored form of an API token (tokens are random, so a fast hash is enough)."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(db, user_id) -> str:
    """A new API token for the user; shown once, only its hash is kept."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with db.begin() as connection:
        connection.execute(api_tokens.insert().values(id=uuid.uuid4().hex, user_id=user_id,
                                                      token_hash=_token_hash(token), created_at=now_ms()))
    return token


def user_for_token(db, token) -> dict | None:
    """The enabled user an API token belongs to, or None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    with db.connect() as connection:
        row = connection.execute(users.select().join(api_tokens, api_tokens.c.user_id == users.c.id)
                                 .where(api_tokens.c.token_hash == _token_hash(token))).first()
    return _public(row) if row and not row.disabled else None


def get_settings(db, user_id) -> dict:
    """The user's saved page settings ({} until saved)."""
    with db.connect() as connection:
        row = connection.execute(sa.select(user_settings.c.data).where(user_settings.c.user_id == user_id)).first()
    return row.data if row else {}


def save_settings(db, user_id, data: dict):
    """Replace the user's page settings."""
    with db.begin() as connection:
        updated = connection.execute(user_settings.update().where(user_settings.c.user_id == user_id)
                                     .values(data=data, updated_at=now_ms())).rowcount
        if not updated:
            connection.execute(user_settings.insert().values(user_id=user_id, data=data, updated_at=now_ms()))
