"""The audit trail (append-only): ``record`` writes one row in the caller's transaction."""

from app.audit.models import AuditRecord

__all__ = ["AuditRecord"]
