"""A streaming replica of the test server, made by ``pg_basebackup -R`` in a temporary
directory and started on a free port as the cluster's OS user (``postgres`` when run
as root, as ``app/embedded_db.py`` runs the embedded cluster); for the read-replica tests
(tests/scaling/test_replica.py).

The primary is the server the suite makes its databases on; replication connects as
``BORDERRISK_REPLICATOR_URL`` (a role with REPLICATION), else as the embedded cluster's
replication role (``app.embedded_db.REPLICATOR``, its password in instance/).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2
import pytest
from sqlalchemy.engine import make_url

from app import embedded_db
from testsupport.databases import server_url
from testsupport.nodes import free_port

# Seconds the replica may take to replay what the primary committed, in the tests.
CATCH_UP_S = 30.0


def replication_conninfo() -> str:
    """libpq connection string of a replication connection to the test server."""
    given = os.environ.get("BORDERRISK_REPLICATOR_URL")
    if given:
        url = make_url(given)
    else:
        try:
            password = embedded_db.REPLICATOR_PASSWORD_FILE.read_text().strip()
        except OSError:
            pytest.exit(f"no replication role: {embedded_db.REPLICATOR_PASSWORD_FILE} is not "
                        "readable (run `make db` as this user, which makes the role) and "
                        "BORDERRISK_REPLICATOR_URL is not set", returncode=3)
        url = make_url(server_url()).set(username=embedded_db.REPLICATOR, password=password)
    return (f"host={url.host} port={url.port or 5432} user={url.username} "
            f"password={url.password} application_name=borderrisk_test_replica")


class StreamingReplica:
    """A hot standby in its own temporary directory: ``port`` (TCP on 127.0.0.1, the
    same roles and passwords as the primary), a superuser over its private socket
    (:meth:`admin`)."""

    def __init__(self):
        self.bin = embedded_db.pg_bin_dir()
        self.home = Path(tempfile.mkdtemp(prefix="borderrisk-replica-"))
        os.chmod(self.home, 0o755)  # noqa: S103  (the cluster user reaches data/ below)
        self.data = self.home / "data"
        self.socket = self.home / "socket"
        self.log = self.home / "log" / "postgres.log"
        self.port = free_port()

    def _run(self, *args: str) -> None:
        result = embedded_db._as_cluster_user([*args])
        if result.returncode != 0:
            tail = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{args[0]} failed:\n{result.stdout}{result.stderr}{tail}")

    def create(self) -> None:
        """Copy the primary (``pg_basebackup -R``: standby.signal and primary_conninfo)
        and start it."""
        for directory in (self.data, self.socket, self.log.parent):
            embedded_db._owned_dir(directory)
        self._run(str(self.bin / "pg_basebackup"), "-D", str(self.data), "-R",
                  "-X", "stream", "-c", "fast", "-d", replication_conninfo())
        self.start()

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 "
                   f"-c unix_socket_directories={self.socket} -c hot_standby=on "
                   "-c fsync=off -c logging_collector=off")
        self._run(str(self.bin / "pg_ctl"), "start", "-w", "-t", "60", "-D", str(self.data),
                  "-l", str(self.log), "-o", options)

    def stop(self) -> None:
        """Fast shutdown: the replica's connections are ended."""
        self._run(str(self.bin / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(self.data))

    def ask(self, statement: str, dbname: str = "postgres"):
        """The first column of the first row of ``statement`` run by the superuser (None
        when there is no row)."""
        connection = psycopg2.connect(host=str(self.socket), port=self.port,
                                      user=embedded_db.SUPERUSER, dbname=dbname)
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement)
                row = cursor.fetchone()
                return None if row is None else row[0]
        finally:
            connection.close()

    def url_of(self, primary_url: str) -> str:
        """``primary_url`` (a database of the primary) on the replica."""
        return make_url(primary_url).set(host="127.0.0.1", port=self.port
                                         ).render_as_string(hide_password=False)

    def wait_for(self, dbname: str, statement: str, timeout: float = CATCH_UP_S):
        """Poll ``statement`` on the replica's ``dbname`` until it gives a true value
        (returned); AssertionError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = self.ask(statement, dbname)
            except psycopg2.OperationalError:  # the database not replayed yet
                value = None
            if value:
                return value
            assert time.monotonic() < deadline, f"replica: no {statement!r} in {timeout} s"
            time.sleep(0.05)

    def destroy(self) -> None:
        embedded_db._as_cluster_user([str(self.bin / "pg_ctl"), "stop", "-w", "-m",
                                      "immediate", "-D", str(self.data)])
        shutil.rmtree(self.home, ignore_errors=True)


@contextmanager
def streaming_replica() -> Iterator[StreamingReplica]:
    """A running replica of the test server, stopped and removed at the end."""
    replica = StreamingReplica()
    try:
        replica.create()
        yield replica
    finally:
        replica.destroy()
