"""Usage per user: one usage event per answer asked for (the page's, the API's and server generations alike, see
chatcore/quotas.py), and the stored conversations for the heaviest ones."""

from datetime import datetime, timezone

import sqlalchemy as sa

from . import users
from .schema import conversations, messages, usage_events
from .schema import users as user_table

_INSERT_EVENT = usage_events.insert()  # built once: one per question asked
DAYS = 30  # how far back the usage charts and /api/usage look
NONE = {"messages_today": 0, "messages_month": 0, "tokens_today": 0, "tokens_month": 0}


def period_starts(now: datetime) -> tuple[int, int]:
    """Millisecond timestamps of the start of today and of this month (UTC, like the stored timestamps)."""
    today = now.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return int(today.timestamp() * 1000), int(today.replace(day=1).timestamp() * 1000)


def by_user(db, now: datetime) -> dict:
    """{user_id: {"messages_today", "messages_month", "tokens_today", "tokens_month"}} for users with usage."""
    today, month = period_starts(now)
    totals = {}
    with db.connect() as connection:
        rows = connection.execute(sa.select(usage_events.c.user_id, usage_events.c.total_tokens,
                                            usage_events.c.created_at).where(usage_events.c.created_at >= month))
        for user_id, tokens, created_at in rows:
            entry = totals.setdefault(user_id, dict(NONE))
            entry["messages_month"] += 1
            entry["tokens_month"] += tokens
            if created_at >= today:
                entry["messages_today"] += 1
                entry["tokens_today"] += tokens
    return totals


def users_with_usage(db, now: datetime) -> list[dict]:
    """Every user, each with their messages and tokens today and this month."""
    totals = by_user(db, now)
    return [user | totals.get(user["id"], NONE) for user in users.list_users(db)]


def report(db, since_ms: int, user_id=None) -> dict:
    """What the usage charts show since `since_ms` (everyone's, or one user's): tokens per day per user and per
    model, answers per hour of day, the heaviest stored conversations, and whether any tokens were estimates."""
    per_user, per_model, per_hour = {}, {}, [0] * 24
    estimated = False
    events = (sa.select(usage_events.c.total_tokens, usage_events.c.estimated, usage_events.c.model,
                        usage_events.c.created_at, user_table.c.name)
              .join(user_table, user_table.c.id == usage_events.c.user_id)
              .where(usage_events.c.created_at >= since_ms))
    answers = (sa.select(messages.c.usage, messages.c.conversation_id, user_table.c.name, conversations.c.title,
                         conversations.c.user_id)
               .join(user_table, user_table.c.id == messages.c.user_id)
               .join(conversations, conversations.c.id == messages.c.conversation_id)
               .where(messages.c.role == "assistant", messages.c.created_at >= since_ms))
    if user_id is not None:
        events = events.where(usage_events.c.user_id == user_id)
        answers = answers.where(messages.c.user_id == user_id)
    heaviest = {}
    with db.connect() as connection:
        for tokens, guessed, model, created_at, name in connection.execute(events):
            estimated = estimated or guessed
            moment = datetime.fromtimestamp(created_at / 1000, timezone.utc)
            day = moment.strftime("%Y-%m-%d")
            per_user.setdefault(name, {}).setdefault(day, 0)
            per_user[name][day] += tokens
            per_model.setdefault(model or "?", {}).setdefault(day, 0)
            per_model[model or "?"][day] += tokens
            per_hour[moment.hour] += 1
        for usage_, conversation_id, name, title, owner_id in connection.execute(answers):
            entry = heaviest.setdefault(conversation_id, {"user": name, "user_id": owner_id, "title": title,
                                                          "tokens": 0, "answers": 0})
            entry["tokens"] += (usage_ or {}).get("total_tokens") or 0
            entry["answers"] += 1
    top = sorted(heaviest.values(), key=lambda e: -e["tokens"])[:10]
    return {"per_user": per_user, "per_model": per_model, "per_hour": per_hour, "heaviest": top,
            "estimated": estimated}


def record(connection, event_id, user_id, model, created_at, total_tokens=0, estimated=False):
    """Insert one usage event (an answer asked for; its tokens are set when it ends)."""
    connection.execute(_INSERT_EVENT, {"id": event_id, "user_id": user_id, "model": model, "created_at": created_at,
                                       "total_tokens": total_tokens, "estimated": estimated})
