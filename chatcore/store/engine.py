"""Open the database (SQLite in DATA_DIR by default, or Postgres) and bring its schema up to date."""

import contextlib
import fcntl
import logging
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]  # where the migrating child finds `chatcore`, whatever the cwd
MIGRATIONS = ROOT / "migrations"
UNREACHABLE = 3  # the migrating child's exit status when the database cannot be reached
_MIGRATION_LOCK = 72_270_011  # any fixed number: a Postgres advisory lock every instance agrees on
# The newest migration's revision (a test checks it is Alembic's head). A database already there is left alone
# without importing Alembic, which would cost every worker tens of MB.
SCHEMA_REVISION = "0005"


class StoreUnavailable(RuntimeError):
    """The database cannot be reached; the page and /healthz say so, nothing is half-written."""


# What a database that went away raises (ours, or the driver's through SQLAlchemy).
STORE_ERRORS = (StoreUnavailable, sa.exc.OperationalError, sa.exc.InterfaceError)


def now_ms() -> int:
    """Timestamps are integer milliseconds since the epoch: sortable, and the same on every database."""
    return int(time.time() * 1000)


def sqlite_url(data_dir) -> str:
    """The default database: a SQLite file under DATA_DIR."""
    return f"sqlite:///{Path(data_dir).resolve() / 'chat.db'}"


def _sqlite_pragmas(dbapi_connection, _record):
    """WAL lets readers and one writer work at once; NORMAL sync in WAL survives a killed process intact."""
    cursor = dbapi_connection.cursor()
    # busy_timeout first: switching a new file to WAL needs a lock another worker may hold for a moment.
    for pragma in ("busy_timeout=10000", "journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def create_engine(url: str) -> sa.Engine:
    """An engine for `url`; SQLite files get their folder created and their pragmas set on every connection."""
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"check_same_thread": False})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def alembic_config(connection=None):
    """Alembic's settings, from code: the migrations folder and, when given, the connection to run on."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@contextlib.contextmanager
def _migration_lock(engine):
    """One migrator at a time across workers and instances: a file lock for SQLite, an advisory lock for Postgres."""
    if engine.dialect.name == "sqlite":
        lock_path = Path(engine.url.database or "chat.db").with_suffix(".migrate.lock")
        with open(lock_path, "w") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            yield
        return
    with engine.connect() as connection:
        connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK})
        try:
            yield
        finally:
            connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK})


def schema_revision(engine) -> str | None:
    """The revision the database is at (None before the first migration)."""
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def migrate(engine):
    """Bring the schema up to date (on start: every process that builds the app calls it, one at a time migrates).

    Alembic runs in a short-lived child process, never in this one: imported, it would stay in the serving process
    for good (~10 MiB; under gunicorn in the master, whose memory every worker maps) for work done once per schema
    change. The lock is held here while the child runs.
    """
    try:
        with _migration_lock(engine):  # the first connection to a new SQLite file sets it up: one at a time
            if schema_revision(engine) == SCHEMA_REVISION:
                return
            # The URL (with its password, if any) goes on the child's stdin: a command line is visible to all.
            child = subprocess.run([sys.executable, "-c", "from chatcore.store.engine import upgrade; upgrade()"],
                                   cwd=ROOT, text=True, input=engine.url.render_as_string(hide_password=False))
    except sa.exc.OperationalError as exc:
        raise StoreUnavailable(f"database unavailable: {type(exc.orig).__name__}") from None
    if child.returncode == UNREACHABLE:
        raise StoreUnavailable("database unavailable while migrating")
    if child.returncode:
        raise RuntimeError(f"the database migration failed (exit status {child.returncode}); its error is above")


def upgrade():
    """The migrating child: bring the database whose URL is on stdin to Alembic's head; exit status UNREACHABLE
    when it cannot be reached."""
    from alembic import command

    # Alembic says which migrations it runs at INFO, as it did in the app's own log.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        with create_engine(sys.stdin.readline().strip()).begin() as connection:
            command.upgrade(alembic_config(connection), "head")
    except sa.exc.OperationalError as exc:
        log.error("database unavailable while migrating: %s", type(exc.orig).__name__)
        sys.exit(UNREACHABLE)
