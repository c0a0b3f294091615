"""The embedded PostGIS cluster that BorderRisk owns under ``instance/``.

Used when ``DATABASE_URL`` is unset. ``python -m app.embedded_db start`` initialises the
cluster on first use (PostgreSQL's ``initdb``), starts it on 127.0.0.1 at
``config.EMBEDDED_PG_PORT`` and makes sure the two roles (the schema's owner and the web
app's role, app/db_roles.py), the database and the ``postgis`` extension exist;
``stop`` stops it; ``status`` says whether it runs.

PostgreSQL refuses to run as root, so when invoked as root the cluster runs as the
unprivileged ``postgres`` OS user (created by Debian's package) with a data directory
that user owns. When that user cannot reach ``instance/`` (a checkout under /root, say),
the data lives under /var/lib/borderrisk/<hash of the checkout path> and ``instance/pg``
is a symbolic link to it.

Imports no Flask and nothing from the app, so it runs before the app can start.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import pwd
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg2
from psycopg2 import sql

import config

CLUSTER_HOME = config.INSTANCE_DIR / "pg"
SUPERUSER = "postgres"
# A role for streaming replication only (a read replica's ``primary_conninfo``, the
# suite's replica made by ``pg_basebackup``): no database rights, its password generated
# in instance/ (0600). initdb's pg_hba.conf already lets it in from 127.0.0.1 and ::1
# (``host replication all ... scram-sha-256``), and PostgreSQL's defaults (wal_level
# replica, max_wal_senders 10) allow it.
REPLICATOR = "borderrisk_replicator"
REPLICATOR_PASSWORD_FILE = config.INSTANCE_DIR / "pg-replicator-password"


class EmbeddedDbError(RuntimeError):
    """The embedded cluster cannot be set up or started; the message says why."""


def pg_bin_dir() -> Path:
    """Directory of the newest installed PostgreSQL server that has PostGIS."""
    candidates = []
    for bindir in Path("/usr/lib/postgresql").glob("*/bin"):
        version = bindir.parent.name
        control = Path(f"/usr/share/postgresql/{version}/extension/postgis.control")
        if (bindir / "pg_ctl").exists() and control.exists():
            candidates.append((int(version) if version.isdigit() else 0, bindir))
    if not candidates:
        raise EmbeddedDbError(
            "no PostgreSQL server with PostGIS found under /usr/lib/postgresql: "
            "run `make system-packages` (installs postgresql-15-postgis-3)"
        )
    return max(candidates)[1]


def cluster_os_user() -> str:
    """The OS user that runs the cluster: ``postgres`` when we are root, else ourselves."""
    if os.geteuid() != 0:
        return getpass.getuser()
    try:
        pwd.getpwnam(SUPERUSER)
    except KeyError:
        raise EmbeddedDbError(
            "running as root needs the unprivileged 'postgres' OS user "
            "(created by the postgresql package): run `make system-packages`"
        ) from None
    return SUPERUSER


def _as_cluster_user(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        args = ["runuser", "-u", cluster_os_user(), "--", *args]
    return subprocess.run(args, text=True, capture_output=True, **kwargs)


def _owned_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        entry = pwd.getpwnam(cluster_os_user())
        os.chown(path, entry.pw_uid, entry.pw_gid)
    path.chmod(0o700)


def cluster_home() -> Path:
    """Directory holding ``data/``, ``socket/`` and ``postgres.log`` (created if needed)."""
    if CLUSTER_HOME.exists():
        return CLUSTER_HOME.resolve()
    config.INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    _owned_dir(CLUSTER_HOME)
    if os.geteuid() != 0 or _as_cluster_user(["test", "-w", str(CLUSTER_HOME)]).returncode == 0:
        return CLUSTER_HOME
    # The cluster user cannot reach the checkout: keep the data where it can.
    CLUSTER_HOME.rmdir()
    digest = hashlib.sha256(str(config.BASE_DIR).encode()).hexdigest()[:12]
    home = Path("/var/lib/borderrisk") / digest
    Path("/var/lib/borderrisk").mkdir(mode=0o755, exist_ok=True)
    _owned_dir(home)
    CLUSTER_HOME.symlink_to(home, target_is_directory=True)
    return home


def _paths() -> tuple[Path, Path, Path]:
    home = cluster_home()
    return home / "data", home / "socket", home / "postgres.log"


def is_running() -> bool:
    data, _, _ = _paths()
    if not (data / "PG_VERSION").exists():
        return False
    result = _as_cluster_user([str(pg_bin_dir() / "pg_ctl"), "status", "-D", str(data)])
    return result.returncode == 0


def _initdb(data: Path, socket: Path) -> None:
    _owned_dir(data)
    _owned_dir(socket)
    result = _as_cluster_user(
        [
            str(pg_bin_dir() / "initdb"),
            "-D", str(data),
            "-U", SUPERUSER,
            "-E", "UTF8",
            "--locale=C.UTF-8",
            # The socket directory is private to the cluster user (and root), so local
            # trust reaches no one else; TCP needs the generated password.
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
        ]
    )
    if result.returncode != 0:
        raise EmbeddedDbError(f"initdb failed:\n{result.stdout}{result.stderr}")
    settings = (
        "\n# BorderRisk embedded cluster\n"
        f"port = {config.EMBEDDED_PG_PORT}\n"
        "listen_addresses = '127.0.0.1'\n"
        f"unix_socket_directories = '{socket}'\n"
    )
    conf = data / "postgresql.conf"
    _as_cluster_user(["sh", "-c", f"cat >> '{conf}'"], input=settings, check=True)
    _record_port(config.EMBEDDED_PG_PORT)


def _record_port(port: int) -> None:
    """Keep the cluster's port in ``instance/pg-port``: every command of this checkout
    uses it from then on (``config.embedded_pg_port``)."""
    config.EMBEDDED_PG_PORT_FILE.parent.mkdir(parents=True, exist_ok=True)
    config.EMBEDDED_PG_PORT_FILE.write_text(f"{port}\n")
    config.EMBEDDED_PG_PORT = port


def _port_of_existing_cluster(data: Path) -> int | None:
    """The port our settings wrote into an existing cluster's postgresql.conf (clusters
    made before the port was recorded)."""
    conf = data / "postgresql.conf"
    ports = re.findall(r"^port = (\d+)$", conf.read_text(), re.MULTILINE) if conf.exists() else []
    return int(ports[-1]) if ports else None


def _admin_connection(dbname: str = "postgres"):
    _, socket, _ = _paths()
    return psycopg2.connect(
        host=str(socket), port=config.EMBEDDED_PG_PORT, user=SUPERUSER, dbname=dbname
    )


def _password(path: Path) -> str:
    """The password kept in ``path`` (mode 0600, this user's), generated the first time."""
    if not path.exists():
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text().strip()


def _ensure_role(cur, name: str, password: str, options: str) -> None:
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,))
    verb = "ALTER" if cur.fetchone() else "CREATE"
    cur.execute(sql.SQL("{} ROLE {} " + options + " PASSWORD {}").format(
        sql.SQL(verb), sql.Identifier(name), sql.Literal(password)))


def _ensure_role_and_database() -> None:
    """Two roles, neither a superuser (app/db_roles.py): the owner of the database and
    its schema (CREATEDB so the test suite can make throwaway databases, and
    pg_signal_backend so it can drop them while the app's connections are open), and
    the web app's role, which owns nothing; and :data:`REPLICATOR`. A database made
    before the split (owned by the app's role) is handed to the owner; ``flask db
    upgrade`` then grants the app's role its privileges."""
    app_role, owner = config.EMBEDDED_PG_USER, config.EMBEDDED_PG_OWNER
    conn = _admin_connection()
    conn.autocommit = True
    with conn.cursor() as cur:
        _ensure_role(cur, owner, _password(config.EMBEDDED_PG_OWNER_PASSWORD_FILE),
                     "LOGIN CREATEDB NOSUPERUSER NOCREATEROLE")
        _ensure_role(cur, app_role, _password(config.EMBEDDED_PG_PASSWORD_FILE),
                     "LOGIN NOCREATEDB NOSUPERUSER NOCREATEROLE")
        _ensure_role(cur, REPLICATOR, _password(REPLICATOR_PASSWORD_FILE),
                     "LOGIN REPLICATION NOCREATEDB NOSUPERUSER NOCREATEROLE")
        cur.execute(sql.SQL("GRANT pg_signal_backend TO {}").format(sql.Identifier(owner)))
        cur.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s",
                    (config.EMBEDDED_PG_DATABASE,))
        row = cur.fetchone()
        if row is None:
            # template1 gets PostGIS first, so every database made from it has it.
            _create_postgis("template1")
            cur.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(config.EMBEDDED_PG_DATABASE), sql.Identifier(owner)))
    conn.close()
    _create_postgis("template1")
    _create_postgis(config.EMBEDDED_PG_DATABASE)
    if row is not None and row[0] != owner:
        _hand_to_owner(config.EMBEDDED_PG_DATABASE, app_role, owner)


def _hand_to_owner(dbname: str, app_role: str, owner: str) -> None:
    """Make ``owner`` own ``dbname`` and everything ``app_role`` owned in it."""
    conn = _admin_connection(dbname)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
            sql.Identifier(dbname), sql.Identifier(owner)))
        cur.execute(sql.SQL("REASSIGN OWNED BY {} TO {}").format(
            sql.Identifier(app_role), sql.Identifier(owner)))
    conn.close()


def _create_postgis(dbname: str) -> None:
    conn = _admin_connection(dbname)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    conn.close()


def start() -> str:
    """Initialise (first time), start and prepare the cluster; return a status line."""
    data, socket, log = _paths()
    if not (data / "PG_VERSION").exists():
        _initdb(data, socket)
    elif not config.EMBEDDED_PG_PORT_FILE.exists():
        _record_port(_port_of_existing_cluster(data) or config.EMBEDDED_PG_PORT)
    if not is_running():
        _owned_dir(socket)
        result = _as_cluster_user(
            [str(pg_bin_dir() / "pg_ctl"), "start", "-w", "-t", "60", "-D", str(data),
             "-l", str(log)]
        )
        if result.returncode != 0:
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise EmbeddedDbError(
                f"pg_ctl start failed (is port {config.EMBEDDED_PG_PORT} taken?):\n"
                f"{result.stdout}{result.stderr}{tail}"
            )
        state = "started"
    else:
        state = "already running"
    _ensure_role_and_database()
    return f"embedded PostGIS {state} on 127.0.0.1:{config.EMBEDDED_PG_PORT} (data in {data})"


def stop() -> str:
    """Stop the cluster if it runs (fast shutdown: rolls back open transactions)."""
    if not CLUSTER_HOME.exists() or not is_running():
        return "embedded PostGIS is not running"
    data, _, _ = _paths()
    result = _as_cluster_user([str(pg_bin_dir() / "pg_ctl"), "stop", "-w", "-m", "fast",
                               "-D", str(data)])
    if result.returncode != 0:
        raise EmbeddedDbError(f"pg_ctl stop failed:\n{result.stdout}{result.stderr}")
    return "embedded PostGIS stopped"


def main(argv: list[str]) -> int:
    commands = {"start": start, "stop": stop,
                "status": lambda: "running" if CLUSTER_HOME.exists() and is_running()
                else "not running"}
    if len(argv) != 1 or argv[0] not in commands:
        print(f"usage: python -m app.embedded_db {{{'|'.join(commands)}}}", file=sys.stderr)
        return 2
    config.read_dotenv()
    if os.environ.get("DATABASE_URL"):
        print("DATABASE_URL is set: using that server, the embedded PostGIS is not used")
        return 0
    try:
        print(commands[argv[0]]())
    except EmbeddedDbError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    if shutil.which("runuser") is None and os.geteuid() == 0:
        print("error: runuser (util-linux) is needed to run PostgreSQL as root", file=sys.stderr)
        sys.exit(1)
    sys.exit(main(sys.argv[1:]))
