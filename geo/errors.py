"""The one error for a parameter a caller can fix, shared by ``geo`` and the API."""

from __future__ import annotations


class ParameterError(ValueError):
    """An input that cannot give a result; ``field`` names it, ``reason`` says why.

    The API answers it as 422 problem+json with ``field``.
    """

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class OutOfScopeError(ParameterError):
    """A request that names a region outside the caller's region scope
    (``app.auth.scope``): the services answer it 403 (forbidden), not 400."""
