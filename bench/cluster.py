"""A PostGIS cluster of a benchmark's own, for loads too big for the shared one.

``BenchCluster(home, port)`` runs PostgreSQL's ``initdb`` into ``home/data`` on first
use, starts it on 127.0.0.1 at ``port`` (socket in ``home/socket``, log in
``home/postgres.log``) and makes the two roles of ``app/db_roles.py`` (the schema's
owner, with CREATEDB, and the web app's role) with passwords kept in ``home`` (mode
0600), and PostGIS in ``template1``, as ``app.embedded_db`` does for the product's
cluster. As root, the cluster runs as the ``postgres`` OS user (``runuser``), which owns
``home``. Memory settings suit a benchmark of millions of rows on one machine
(:data:`SETTINGS`).
"""

from __future__ import annotations

import os
import pwd
import secrets
import subprocess  # noqa: S404  # PostgreSQL's own programs, fixed arguments
from pathlib import Path

import psycopg2
from psycopg2 import sql

from app.embedded_db import cluster_os_user, pg_bin_dir

SUPERUSER = "postgres"
OWNER, APP_ROLE, DATABASE = "borderrisk_owner", "borderrisk", "borderrisk"
# Sized for a 24 GB machine that other work shares; the rest as PostgreSQL's defaults.
SETTINGS = {
    "shared_buffers": "2GB",
    "effective_cache_size": "8GB",
    "work_mem": "64MB",
    "maintenance_work_mem": "1GB",
    "max_wal_size": "16GB",
    "checkpoint_timeout": "30min",
    "random_page_cost": "1.1",
}


class BenchCluster:
    """A PostGIS cluster under ``home`` listening on 127.0.0.1:``port``."""

    def __init__(self, home: Path, port: int):
        self.home, self.port = Path(home), port
        self.data, self.socket = self.home / "data", self.home / "socket"
        self.log = self.home / "postgres.log"

    # ----------------------------------------------------------------- processes

    def _run(self, args: list[str], **kwargs) -> subprocess.CompletedProcess:
        if os.geteuid() == 0:
            args = ["runuser", "-u", cluster_os_user(), "--", *args]
        return subprocess.run(args, text=True, capture_output=True, **kwargs)  # noqa: S603

    def _owned_dir(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            entry = pwd.getpwnam(cluster_os_user())
            os.chown(path, entry.pw_uid, entry.pw_gid)
        path.chmod(0o700)

    def running(self) -> bool:
        if not (self.data / "PG_VERSION").exists():
            return False
        return self._run([str(pg_bin_dir() / "pg_ctl"), "status", "-D",
                          str(self.data)]).returncode == 0

    def start(self) -> None:
        """initdb (first time), start, and make the roles and the database."""
        self._owned_dir(self.home)
        if not (self.data / "PG_VERSION").exists():
            self._initdb()
        if not self.running():
            self._owned_dir(self.socket)
            result = self._run([str(pg_bin_dir() / "pg_ctl"), "start", "-w", "-t", "120",
                                "-D", str(self.data), "-l", str(self.log)])
            if result.returncode != 0:
                raise RuntimeError(f"pg_ctl start failed (port {self.port} taken?): "
                                   f"{result.stdout}{result.stderr}")
        self._ensure_roles()

    def stop(self) -> None:
        if self.running():
            self._run([str(pg_bin_dir() / "pg_ctl"), "stop", "-w", "-m", "fast", "-D",
                       str(self.data)], check=True)

    def _initdb(self) -> None:
        self._owned_dir(self.data)
        self._owned_dir(self.socket)
        result = self._run([str(pg_bin_dir() / "initdb"), "-D", str(self.data),
                            "-U", SUPERUSER, "-E", "UTF8", "--locale=C.UTF-8",
                            "--auth-local=trust", "--auth-host=scram-sha-256"])
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{result.stdout}{result.stderr}")
        lines = [f"port = {self.port}", "listen_addresses = '127.0.0.1'",
                 f"unix_socket_directories = '{self.socket}'",
                 *(f"{name} = '{value}'" for name, value in SETTINGS.items())]
        self._run(["sh", "-c", f"cat >> '{self.data / 'postgresql.conf'}'"],
                  input="\n# bench cluster\n" + "\n".join(lines) + "\n", check=True)

    # ----------------------------------------------------------------- roles, URLs

    def _password(self, role: str) -> str:
        path = self.home / f"{role}-password"  # root's, in the cluster user's folder
        if not path.exists():
            path.write_text(secrets.token_urlsafe(24))
            path.chmod(0o600)
        return path.read_text().strip()

    def admin(self, dbname: str = "postgres"):
        """A superuser connection over the private socket (autocommit)."""
        conn = psycopg2.connect(host=str(self.socket), port=self.port, user=SUPERUSER,
                                dbname=dbname)
        conn.autocommit = True
        return conn

    def _ensure_roles(self) -> None:
        conn = self.admin()
        with conn.cursor() as cur:
            for role, options in ((OWNER, "LOGIN CREATEDB NOSUPERUSER NOCREATEROLE"),
                                  (APP_ROLE, "LOGIN NOCREATEDB NOSUPERUSER NOCREATEROLE")):
                cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
                verb = "ALTER" if cur.fetchone() else "CREATE"
                cur.execute(sql.SQL("{} ROLE {} " + options + " PASSWORD {}").format(
                    sql.SQL(verb), sql.Identifier(role), sql.Literal(self._password(role))))
            cur.execute(sql.SQL("GRANT pg_signal_backend TO {}").format(sql.Identifier(OWNER)))
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
            exists = cur.fetchone()
        conn.close()
        template = self.admin("template1")
        with template.cursor() as cur:
            cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        template.close()
        if not exists:
            conn = self.admin()
            with conn.cursor() as cur:
                cur.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(DATABASE), sql.Identifier(OWNER)))
            conn.close()

    def recreate_database(self) -> None:
        """Drop the database (with everything in it) and make it anew, empty."""
        conn = self.admin()
        with conn.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(DATABASE)))
        conn.close()
        self._ensure_roles()

    def copy_database(self, name: str, source: str = DATABASE) -> None:
        """Make ``name`` a copy of ``source`` (dropped first if it exists), owned by
        OWNER; ``source`` must have no session open."""
        conn = self.admin()
        with conn.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))
            cur.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {} OWNER {} "
                                "STRATEGY FILE_COPY").format(
                sql.Identifier(name), sql.Identifier(source), sql.Identifier(OWNER)))
        conn.close()

    def url(self, role: str, database: str = DATABASE) -> str:
        """``postgresql://`` URL of ``role`` (OWNER or APP_ROLE) on ``database``."""
        return (f"postgresql://{role}:{self._password(role)}@127.0.0.1:{self.port}/"
                f"{database}")

    def environment(self) -> dict[str, str]:
        """``DATABASE_URL`` and ``DATABASE_OWNER_URL`` of this cluster: what
        ``testsupport.databases`` makes throwaway databases with."""
        return {"DATABASE_URL": self.url(APP_ROLE), "DATABASE_OWNER_URL": self.url(OWNER)}
