"""The audit trail (append-only): ``record`` writes one row in the caller's transaction,
so a write and its record commit or roll back together; ``record_features`` writes one
row per feature of a write, set-based (``geo.queries.audit``); ``query`` reads the trail.

Who and from where are taken from the request (the signed-in user or token owner, the
client address ``request.remote_addr``, which is the proxy's unless the app is
configured to trust one) or, outside a request (CLI), ``cli:<os user>``; ``actor``
overrides them. Values under secret keys (passwords, hashes, tokens, session ids) are
never stored: they are replaced by ``"[redacted]"``.
"""

from __future__ import annotations

import getpass

from flask import has_request_context, request
from flask_login import current_user

from app.audit.models import AuditRecord
from geo.layers import LAYERS, Layer
from geo.queries import audit as sql
from geo.queries.audit import AuditQuery, csv_chunks, iter_audit_rows
from geo.queries.audit import audit_page as query

__all__ = ["AuditQuery", "AuditRecord", "csv_chunks", "iter_audit_rows", "lock_features",
           "query", "record", "record_features"]

# Keys whose values never enter the trail (at any depth of before/after/detail).
SECRET_KEYS = frozenset({"password", "password_hash", "token", "token_sha256", "secret",
                         "sid", "sid_sha256", "api_key", "csrf_token"})
REDACTED = "[redacted]"


def scrub(value):
    """``value`` with the values of :data:`SECRET_KEYS` replaced by ``"[redacted]"``."""
    if isinstance(value, dict):
        return {k: REDACTED if str(k).lower() in SECRET_KEYS else scrub(v)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def request_actor() -> dict:
    """Who and from where (``user_id``, ``username``, ``ip``, ``method``, ``path``): the
    signed-in user of the current request, or ``cli:<OS user>`` outside a request. Taken
    in the request when the write happens later (an import job's thread)."""
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
        ``password``, ``lock``, ``unlock``, ``revoke``...
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
                      before=scrub(before), after=scrub(after), detail=scrub(detail),
                      **{**request_actor(), **(actor or {})})
    session.add(row)
    session.flush()
    return row


def lock_features(session, layer: Layer, ids) -> dict[str, dict]:
    """The values of features before an update, locked until the transaction ends
    (``geo.queries.audit.lock_features``): pass them as ``before`` to :func:`record_features`."""
    return sql.lock_features(session, layer, ids)


def record_features(session, action: str, layer: Layer, ids, *,
                    before: dict[str, dict] | None = None, detail: dict | None = None,
                    actor: dict | None = None) -> int:
    """One record per feature written, in one statement; returns how many.

    ``create`` and ``update``: call after the write (``after`` is the stored feature;
    an update's ``before`` comes from :func:`lock_features`, read before it).
    ``delete``: call before the delete (``before`` is the stored feature, locked).
    """
    return sql.record_features(session, layer, action, ids,
                               {**request_actor(), **(actor or {})},
                               current_as="before" if action == "delete" else "after",
                               before=before, detail=scrub(detail))


def record_import(session, report, *, file: str, sha256: str, source: str | None,
                  fmt: str | None, actor: dict | None = None) -> AuditRecord | None:
    """The one record of a bulk import (API or CLI), when it wrote something.

    ``report`` is the ``geo.io.ingest.IngestReport``; ``file`` the file's name (as
    uploaded, made safe, or as given on the command line), ``sha256`` its hex SHA-256,
    ``source`` the incidents' default source (dropped for other layers).
    A dry run or an import that changed no row writes no record (None). Per-feature
    records are not written for imports: the record names the file by its hash, and
    the counts say what it did.
    """
    if report.dry_run or not report.written or not (report.inserted or report.updated):
        return None
    if "source" not in LAYERS[report.layer].writable_names:
        source = None  # only incidents have a source
    detail = {"file": file, "sha256": sha256, "layer": report.layer, "source": source,
              "format": fmt, "rows": report.rows, "inserted": report.inserted,
              "updated": report.updated, "unchanged": report.unchanged,
              "rejected": report.rejected, "dry_run": False}
    return record(session, "import", report.layer, detail=detail, actor=actor)
