"""The inbox: what the service tells a signed-in user (alerts, level decisions and
bulletins of their regions; their webhooks' troubles), read or unread.

:func:`notify` writes a notification in the caller's transaction (it exists when the
write that caused it commits).
"""

from __future__ import annotations

from sqlalchemy import text

KINDS = ("alert", "decision", "bulletin", "webhook")

_NOTIFY_SQL = text("""
    INSERT INTO notifications (user_id, kind, title, body, link, event_id)
    SELECT u, :kind, :title, :body, :link, :event_id FROM unnest(CAST(:users AS int[])) AS u
    ON CONFLICT (user_id, event_id) WHERE event_id IS NOT NULL DO NOTHING
""")


def notify(session, user_ids, kind: str, title: str, body: str = "", link: str | None = None,
           event_id: int | None = None) -> None:
    """Tell each of ``user_ids`` (once per event when ``event_id`` is given). Does not
    commit.

    Parameters
    ----------
    kind : str
        One of :data:`KINDS`.
    title, body : str
        What the inbox shows (plain text; escaped where it is shown).
    link : str, optional
        Where the notification leads (a path of this service).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    users = sorted({int(u) for u in user_ids})
    if users:
        session.execute(_NOTIFY_SQL, {"users": users, "kind": kind, "title": title,
                                      "body": body, "link": link, "event_id": event_id})
