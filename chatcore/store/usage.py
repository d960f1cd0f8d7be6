"""Usage per user, read from the stored messages: questions asked and tokens used, today and this month."""

from datetime import datetime, timezone

import sqlalchemy as sa

from .schema import messages


def period_starts(now: datetime) -> tuple[int, int]:
    """Millisecond timestamps of the start of today and of this month (UTC, like the stored timestamps)."""
    today = now.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return int(today.timestamp() * 1000), int(today.replace(day=1).timestamp() * 1000)


def by_user(db, now: datetime) -> dict:
    """{user_id: {"messages_today", "messages_month", "tokens_today", "tokens_month"}} for users with usage."""
    today, month = period_starts(now)
    totals = {}
    with db.connect() as connection:
        rows = connection.execute(sa.select(messages.c.user_id, messages.c.role, messages.c.usage, messages.c.created_at)
                                  .where(messages.c.created_at >= month))
        for user_id, role, usage, created_at in rows:
            entry = totals.setdefault(user_id, {"messages_today": 0, "messages_month": 0, "tokens_today": 0,
                                                "tokens_month": 0})
            tokens = (usage or {}).get("total_tokens") or 0 if role == "assistant" else 0
            questions = 1 if role == "user" else 0
            entry["messages_month"] += questions
            entry["tokens_month"] += tokens
            if created_at >= today:
                entry["messages_today"] += questions
                entry["tokens_today"] += tokens
    return totals
