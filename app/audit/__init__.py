"""The audit trail (append-only): ``record`` writes one row in the caller's transaction,
so a write and its record commit or roll back together.

Who and from where are taken from the request (the signed-in user or token owner, the
client address) or, outside a request (CLI), from ``actor``.
"""

from __future__ import annotations

import getpass

from flask import has_request_context, request
from flask_login import current_user

from app.audit.models import AuditRecord

__all__ = ["AuditRecord", "record"]


def _request_actor() -> dict:
    if not has_request_context():
        try:
            name = getpass.getuser()
        except (KeyError, OSError):
            name = "unknown"
        return {"user_id": None, "username": f"cli:{name}"[:64], "ip": None,
                "method": None, "path": None}
    user = current_user if getattr(current_user, "is_authenticated", False) else None
    return {"user_id": user.id if user else None,
            "username": user.username if user else None,
            "ip": (request.remote_addr or "")[:45] or None,
            "method": request.method, "path": request.full_path.rstrip("?")[:2000]}


def record(session, action: str, entity: str, entity_id=None, *, before: dict | None = None,
           after: dict | None = None, detail: dict | None = None,
           actor: dict | None = None) -> AuditRecord:
    """Append one audit record to ``session`` (flushed, not committed).

    Parameters
    ----------
    action : str
        What was done: ``create``, ``update``, ``delete``, ``import``, ``level``,
        ``user``, ``token``, ``login``...
    entity : str
        The kind of thing written (a layer name, ``user``, ``token``, ``section``...).
    entity_id : int or str, optional
        Its id.
    before, after : dict, optional
        Its values before and after (JSON-serialisable; None for a create's before and
        a delete's after).
    detail : dict, optional
        Other facts (an import's file name, SHA-256 and counts).
    actor : dict, optional
        Overrides of who/where (``user_id``, ``username``, ``ip``), e.g. for the CLI.
    """
    row = AuditRecord(action=action, entity=entity,
                      entity_id=None if entity_id is None else str(entity_id),
                      before=before, after=after, detail=detail,
                      **{**_request_actor(), **(actor or {})})
    session.add(row)
    session.flush()
    return row
