"""Per-user limits (messages per day, tokens per day and per month, models), checked and counted atomically
before the model is called, so racing tabs, workers or instances cannot pass a limit together."""

import itertools
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from .errors import ChatError
from .store.conversations import new_id
from .store.schema import usage_events, user_limits, users
from .store import usage
from .store.usage import period_starts


@dataclass(frozen=True)
class Limits:
    """0 means no limit (for concurrent answers: the server's MAX_CONCURRENT_ANSWERS); `models` empty means every
    model the server offers."""

    messages_per_day: int = 0
    tokens_per_day: int = 0
    tokens_per_month: int = 0
    models: tuple = ()
    concurrent_answers: int = 0

    @property
    def any(self) -> bool:
        """True when something is limited at all."""
        return bool(self.messages_per_day or self.tokens_per_day or self.tokens_per_month or self.models)


FIELDS = {f.name for f in fields(Limits)}


def defaults(settings) -> Limits:
    """Everyone's limits, from LIMIT_MESSAGES_PER_DAY, LIMIT_TOKENS_PER_DAY, LIMIT_TOKENS_PER_MONTH, LIMIT_MODELS."""
    return Limits(settings.limit_messages_per_day, settings.limit_tokens_per_day, settings.limit_tokens_per_month,
                  settings.limit_models)


def check_override(data) -> dict:
    """A per-user override: known fields only, counts >= 0, models a list of names; else ValueError."""
    if not isinstance(data, dict) or set(data) - FIELDS:
        raise ValueError(f"limits take only {', '.join(sorted(FIELDS))}")
    for key, value in data.items():
        if key == "models":
            if not isinstance(value, list) or not all(isinstance(m, str) for m in value):
                raise ValueError("models must be a list of model names")
        elif value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise ValueError(f"{key} must be a whole number, 0 for no limit")
    return {key: value for key, value in data.items() if value is not None}


_OVERRIDE = sa.select(user_limits.c.data).where(user_limits.c.user_id == sa.bindparam("_uid"))  # built once
_RECORD = usage_events.update().where(usage_events.c.id == sa.bindparam("_id"))


def limits_for(db, user_id, settings) -> Limits:
    """The user's limits: the settings' defaults with the user's overrides on top."""
    with db.connect() as connection:
        override = connection.execute(_OVERRIDE, {"_uid": user_id}).scalar()
    override = dict(override or {})
    if "models" in override:
        override["models"] = tuple(override["models"])
    return replace(defaults(settings), **override)


def set_override(db, user_id, data: dict):
    """Replace the user's overrides (an empty dict: back to the defaults)."""
    data = check_override(data)
    with db.begin() as connection:
        connection.execute(user_limits.delete().where(user_limits.c.user_id == user_id))
        if data:
            connection.execute(user_limits.insert().values(user_id=user_id, data=data))


def _used(connection, user_id, since_ms):
    """(answers, tokens) of the user since `since_ms`."""
    row = connection.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(usage_events.c.total_tokens), 0))
                             .where(usage_events.c.user_id == user_id, usage_events.c.created_at >= since_ms)).one()
    return row[0], row[1]


def _reset_times(now):
    """When today's and this month's counts start again (UTC)."""
    tomorrow = (now.astimezone(timezone.utc) + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    next_month = (tomorrow.replace(day=1) + timedelta(days=32)).replace(day=1) if tomorrow.day != 1 else tomorrow
    return tomorrow, next_month


def limit_error(code, message, resets_at: datetime) -> ChatError:
    """A 429 that says which limit was reached and when it resets (Retry-After too)."""
    seconds = max(1, int((resets_at - datetime.now(timezone.utc)).total_seconds()))
    error = ChatError(429, code, f"{message} It resets at {resets_at:%Y-%m-%d %H:%M} UTC.",
                      error_type="rate_limit_error", retry_after=seconds)
    error.resets_at = resets_at.isoformat()
    return error


def reserve(db, user_id, model, limits: Limits, now=None, event_id=None) -> str:
    """Count one answer for the user before the model is called; a ChatError when a limit forbids it.

    Every answer is counted (the usage charts read these events); returns the event's id (`event_id` when given).
    The insert and the check run in one transaction that first locks the user's row (Postgres) or the database's
    write lock (SQLite), so concurrent requests are counted one after another.
    """
    with db.begin() as connection:
        return count(connection, user_id, model, limits, now, event_id)


def count(connection, user_id, model, limits: Limits, now=None, event_id=None) -> str:
    """reserve() inside the caller's transaction (a turn is stored with its count, or neither is)."""
    now = now or datetime.now(timezone.utc)
    if limits.models and model not in limits.models:
        raise ChatError(403, "model_not_allowed", f"You may not use the model {model!r}.",
                        error_type="permission_error")
    event_id = event_id or new_id()
    if limits.any and connection.dialect.name == "postgresql":
        connection.execute(sa.select(users.c.id).where(users.c.id == user_id).with_for_update())
    usage.record(connection, event_id, user_id, model, int(now.timestamp() * 1000))
    if limits.any:
        _check(connection, user_id, limits, now)
    return event_id


def _check(connection, user_id, limits: Limits, now):
    """Raise the ChatError of the first limit the answers counted so far (this one included) go past."""
    today, month = period_starts(now)
    tomorrow, next_month = _reset_times(now)
    answers_today, tokens_today = _used(connection, user_id, today)
    _, tokens_month = _used(connection, user_id, month)
    if limits.messages_per_day and answers_today > limits.messages_per_day:
        raise limit_error("limit_messages_per_day", f"You reached your {limits.messages_per_day} messages for "
                          "today.", tomorrow)
    if limits.tokens_per_day and tokens_today >= limits.tokens_per_day:
        raise limit_error("limit_tokens_per_day", f"You used your {limits.tokens_per_day} tokens for today.",
                          tomorrow)
    if limits.tokens_per_month and tokens_month >= limits.tokens_per_month:
        raise limit_error("limit_tokens_per_month", f"You used your {limits.tokens_per_month} tokens for this "
                          "month.", next_month)


def record(db, event_id, answer_usage: dict | None):
    """Store the answer's token count on its usage event (the backend's usage, or the estimate, marked)."""
    if not answer_usage:
        return
    with db.begin() as connection:
        record_in(connection, event_id, answer_usage)


def record_in(connection, event_id, answer_usage: dict | None):
    """record() inside the caller's transaction (an answer saved with its count)."""
    if answer_usage:
        connection.execute(_RECORD, {"_id": event_id, "total_tokens": int(answer_usage.get("total_tokens") or 0),
                                     "estimated": bool(answer_usage.get("estimated"))})


def release(db, event_id):
    """Un-count an answer that never reached the model (the upstream refused it)."""
    with db.begin() as connection:
        connection.execute(usage_events.delete().where(usage_events.c.id == event_id))


def remaining(db, user_id, limits: Limits, now=None) -> dict:
    """What is left today and this month ({} when nothing is limited), for the page's "12 left today"."""
    now = now or datetime.now(timezone.utc)
    today, month = period_starts(now)
    with db.connect() as connection:
        answers_today, tokens_today = _used(connection, user_id, today)
        _, tokens_month = _used(connection, user_id, month)
    left = {}
    if limits.messages_per_day:
        left["messages_today"] = max(0, limits.messages_per_day - answers_today)
    if limits.tokens_per_day:
        left["tokens_today"] = max(0, limits.tokens_per_day - tokens_today)
    if limits.tokens_per_month:
        left["tokens_month"] = max(0, limits.tokens_per_month - tokens_month)
    return left


def counted(first, events, db, event_id, prompt_messages):
    """Pass a provider stream (its first item already taken) through, storing its usage on the event when its
    Finish arrives (an estimate, marked, when the backend reported none)."""
    from .providers.base import Finish

    characters = []
    try:
        for item in itertools.chain([first], events):
            if isinstance(item, Finish):
                record(db, event_id, item.usage or estimated_usage(prompt_messages, "".join(characters)))
            elif isinstance(item, str):
                characters.append(item)
            yield item
    finally:
        events.close()


def estimated_usage(prompt_messages, answer) -> dict:
    """Token usage estimated from the text (for backends that report none)."""
    from .messages import content_tokens, estimate_tokens

    prompt = sum(content_tokens(m.get("content", "")) for m in prompt_messages)
    completion = estimate_tokens(answer) if answer else 0
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
            "estimated": True}
