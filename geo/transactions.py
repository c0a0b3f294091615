"""The one place a write commits or rolls back.

Every write (an API create, PATCH or DELETE, an import, a stored assessment, a level
decision, the command line's) runs as one :func:`unit_of_work`: what the block writes,
the rows and the audit record of them, is committed when the block ends, and rolled
back when it raises, or when it called :meth:`UnitOfWork.discard` (a dry run, a write
with problems). Nothing is half-written, and no caller commits on its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class UnitOfWork:
    """A write in progress (see :func:`unit_of_work`)."""

    def __init__(self, session):
        self.session = session
        self.kept = True

    def discard(self) -> None:
        """Roll back what the block wrote when it ends, instead of committing it."""
        self.kept = False


@contextmanager
def unit_of_work(session) -> Iterator[UnitOfWork]:
    """Run a write in ``session``'s transaction: commit when the block ends, roll back
    when it raises (the exception goes on) or discarded its work.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
    """
    work = UnitOfWork(session)
    try:
        yield work
    except BaseException:
        session.rollback()
        raise
    if work.kept:
        session.commit()
    else:
        session.rollback()
