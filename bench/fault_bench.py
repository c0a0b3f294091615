"""Fault benchmark (issue 8): database restart under load, a worker killed mid-import,
disk full and a read-only database, against gunicorn on a throwaway PostgreSQL cluster.

Run (as root, or as a user who may run PostgreSQL's ``initdb``; the disk-full step needs
root to mount a tmpfs): ``.venv/bin/python -m bench.fault_bench [--incidents 20000]
[--import-rows 60000] [--workers N] [--outage 5]``

Everything runs on a PostgreSQL cluster of its own (``initdb`` into a temporary
directory, a free port on 127.0.0.1, as the ``postgres`` OS user when root, like
``app/embedded_db.py``), so the development database is never touched; the app
connects as a role without superuser rights, as in production. Steps:

(a) **restart under load**: 16 client threads request API lists, vector tiles, WMS
    GetMap and ``/healthz`` in a loop; the cluster is stopped (``pg_ctl stop -m
    fast``), left down ``--outage`` seconds and started again. Reported: the answers
    while it was down (status counts, latency p50/p99/max), the seconds from "database
    accepting connections again" to the first 2xx and to the last non-2xx, any 500, and
    whether the gunicorn workers are the same processes before and after.
(b) **SIGKILL a worker mid-import**: ``POST /api/v1/import/incidents`` of
    ``--import-rows`` synthetic incidents (CSV); when the ``INSERT INTO incidents`` runs,
    the gunicorn worker holding that connection is killed with SIGKILL. Reported: the
    rows of that file and the import audit records after the kill (0 expected), then
    after re-running the same import (all rows once, one record).
(c) **disk full**: ``incidents`` (table and indexes) moved to a tablespace on a tmpfs
    with 4 MB to spare, then the same import: 503 with "out of disk space" expected,
    and nothing written (counts before and after).
(d) **read-only**: ``ALTER SYSTEM SET default_transaction_read_only = on`` and a reload
    (open connections too), then a write and an import: 503 "read-only" expected,
    nothing written; reads still answer; writes work again after the reset.

docs/reliability.md records the numbers.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import shutil
import signal
import subprocess  # noqa: S404  # pg_ctl, initdb, mount with fixed arguments
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psycopg2
from psycopg2 import sql

from app import embedded_db
from bench.servers import (
    OUR_APP,
    OUR_GUNICORN,
    PROJECT_DIR,
    Server,
    free_port,
    gunicorn_command,
    our_app_env,
)

APP_ROLE = "borderrisk"
APP_DATABASE = "borderrisk"
# Room left on the small filesystem once incidents are on it (MiB): less than an import.
TMPFS_HEADROOM_MB = 4
LOAD_CLIENTS = 16
GOAL_RECOVERY_S = 5.0


# --------------------------------------------------------------------------- the cluster


class ThrowawayCluster:
    """A PostgreSQL + PostGIS cluster in a temporary directory on a free port: a
    superuser reached over its private socket, the app's role over TCP."""

    def __init__(self):
        self.bin = embedded_db.pg_bin_dir()
        self.home = Path(tempfile.mkdtemp(prefix="borderrisk-faults-"))
        # The postgres OS user must reach data/ and socket/ below it (both 0700).
        os.chmod(self.home, 0o755)  # noqa: S103
        self.data = self.home / "data"
        self.socket = self.home / "socket"
        self.log = self.home / "log" / "postgres.log"
        self.port = free_port()
        self.password = secrets.token_urlsafe(18)

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        result = embedded_db._as_cluster_user([*args])
        if result.returncode != 0:
            tail = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise SystemExit(f"{args[0]} failed:\n{result.stdout}{result.stderr}{tail}")
        return result

    def create(self) -> None:
        for directory in (self.data, self.socket, self.log.parent):
            embedded_db._owned_dir(directory)
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                  "-E", "UTF8", "--locale=C.UTF-8", "--auth-local=trust",
                  "--auth-host=scram-sha-256")
        settings = (f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                    f"unix_socket_directories = '{self.socket}'\n")
        embedded_db._as_cluster_user(["sh", "-c", f"cat >> '{self.data}/postgresql.conf'"],
                                     input=settings, check=True)
        self.start()
        with self.admin() as conn, conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(APP_ROLE), sql.Literal(self.password)))
            cur.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(APP_DATABASE), sql.Identifier(APP_ROLE)))
        with self.admin(APP_DATABASE) as conn, conn.cursor() as cur:
            cur.execute("CREATE EXTENSION postgis")

    def start(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "start", "-w", "-t", "60", "-D", str(self.data),
                  "-l", str(self.log))

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(self.data))

    def admin(self, dbname: str = "postgres"):
        """A superuser connection (autocommit) over the socket; a context manager."""
        conn = psycopg2.connect(host=str(self.socket), port=self.port, user="postgres",
                                dbname=dbname)
        conn.autocommit = True
        return _Closing(conn)

    @property
    def app_url(self) -> str:
        return (f"postgresql+psycopg2://{APP_ROLE}:{self.password}@127.0.0.1:{self.port}/"
                f"{APP_DATABASE}")

    def destroy(self) -> None:
        result = embedded_db._as_cluster_user(
            [str(self.bin / "pg_ctl"), "stop", "-w", "-m", "immediate", "-D", str(self.data)])
        del result  # it may not be running
        shutil.rmtree(self.home, ignore_errors=True)


class _Closing:
    """``with`` for a psycopg2 connection that closes it (psycopg2's own ``with`` only
    ends the transaction)."""

    def __init__(self, conn):
        self.conn = conn

    def __enter__(self):
        return self.conn

    def __exit__(self, *exc):
        self.conn.close()


def scalar(cluster: ThrowawayCluster, query: str, params=()):
    with cluster.admin(APP_DATABASE) as conn, conn.cursor() as cur:
        cur.execute(query, params)
        row = cur.fetchone()
        return None if row is None else row[0]


def prepare(cluster: ThrowawayCluster, incidents: int) -> dict:
    """Migrate as the app's role, load the demo, a supervisor and a token; the
    headers."""
    import flask_migrate

    from app.auth.tokens import create_token
    from app.auth.users import create_user
    from app.extensions import db
    from geo.demo.loader import load_demo
    from testsupport.apps import make_app

    app = make_app(cluster.app_url)
    with app.app_context():
        flask_migrate.upgrade()
        load_demo(db.session, app.config["ANALYSIS_SRID"], n_incidents=incidents)
        # A supervisor: the generated file sets incidents' status, which needs that role.
        user = create_user(db.session, "fault-supervisor", "supervisor",
                           secrets.token_urlsafe(12))
        _, token = create_token(db.session, user, "faults")
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return {"Authorization": f"Bearer {token}"}


def start_ours(workdir: Path, cluster: ThrowawayCluster, headers: dict, workers: int
               ) -> Server:
    server = Server("borderrisk", free_port(), "", headers)
    server.start(gunicorn_command(OUR_GUNICORN, OUR_APP, server.port, workers, threads=4,
                                  timeout_s=300, chdir=PROJECT_DIR),
                 our_app_env(cluster.app_url), workdir, "/healthz",
                 content_type="application/json", wait_s=120)
    return server


def worker_pids(server: Server) -> set[int]:
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
    return {int(pid) for pid in children.read_text().split()}


# --------------------------------------------------------------------------- (a) restart


@dataclass
class Answer:
    started: float  # time.monotonic()
    ended: float
    status: int  # 0: no HTTP answer (connection error)
    kind: str


def load_urls(cluster: ThrowawayCluster) -> list[tuple[str, str]]:
    """(kind, URL) around 40 random incidents: API list, tile, WMS GetMap, health."""
    from bench.load_bench import mercator_bounds, tile_of

    with cluster.admin(APP_DATABASE) as conn, conn.cursor() as cur:
        cur.execute("SELECT setseed(0.8)")
        cur.execute("SELECT ST_X(geom), ST_Y(geom) FROM incidents ORDER BY random() LIMIT 40")
        anchors = cur.fetchall()
    urls = []
    for i, (lon, lat) in enumerate(anchors):
        z = 8 + i % 6
        x, y = tile_of(lon, lat, z)
        urls += [
            ("api", f"/api/v1/incidents?bbox={lon - 0.1:.4f},{lat - 0.1:.4f},"
                    f"{lon + 0.1:.4f},{lat + 0.1:.4f}&limit=100"),
            ("tile", f"/ogc/tiles/incidents/{z}/{x}/{y}.mvt"),
            ("wms", "/ogc/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=regions,"
                    "border_segments,crossing_points,incidents&STYLES=&CRS=EPSG:3857&WIDTH=256"
                    "&HEIGHT=256&FORMAT=image/png&BBOX="
                    + ",".join(f"{v:.2f}" for v in mercator_bounds(z, x, y))),
            ("health", "/healthz"),
        ]
    return urls


def drive(server: Server, urls: list[tuple[str, str]], stop: threading.Event,
          answers: list[Answer]) -> None:
    """Request ``urls`` in turn until ``stop``; every answer appended to ``answers``."""
    lock = threading.Lock()

    def client(offset: int):
        i = offset
        while not stop.is_set():
            kind, url = urls[i % len(urls)]
            i += 1
            t0 = time.monotonic()
            try:
                status, _, _ = server.get(url, timeout=60)
            except OSError:
                status = 0
            with lock:
                answers.append(Answer(t0, time.monotonic(), status, kind))

    threads = [threading.Thread(target=client, args=(n * 7,)) for n in range(LOAD_CLIENTS)]
    for thread in threads:
        thread.start()
    stop.wait()
    for thread in threads:
        thread.join()


def restart_under_load(cluster: ThrowawayCluster, server: Server, outage_s: float) -> dict:
    urls = load_urls(cluster)
    pids = worker_pids(server)
    answers: list[Answer] = []
    stop = threading.Event()
    driver = threading.Thread(target=drive, args=(server, urls, stop, answers))
    driver.start()
    time.sleep(8)
    t_stop = time.monotonic()
    cluster.stop()
    t_down = time.monotonic()
    time.sleep(outage_s)
    t_start = time.monotonic()
    cluster.start()
    t_up = time.monotonic()  # pg_ctl -w returned: accepting connections
    time.sleep(15)
    stop.set()
    driver.join()
    same_workers = worker_pids(server) == pids

    def ok(a: Answer) -> bool:
        return 200 <= a.status < 300

    before = [a for a in answers if a.ended < t_stop]
    down = [a for a in answers if a.started >= t_down and a.ended <= t_start]
    after = [a for a in answers if a.started >= t_up]
    first_ok = min((a.ended for a in after if ok(a)), default=float("nan"))
    last_bad = max((a.ended for a in answers if not ok(a) and a.started >= t_stop),
                   default=t_up)
    statuses: dict[str, dict[int, int]] = {}
    for a in down:
        statuses.setdefault(a.kind, {}).setdefault(a.status, 0)
        statuses[a.kind][a.status] += 1
    latency = np.array([a.ended - a.started for a in down]) * 1000
    bad_after = {}
    for a in after:
        if not ok(a):
            bad_after.setdefault(f"{a.kind} {a.status}", 0)
            bad_after[f"{a.kind} {a.status}"] += 1
    return {
        "requests": len(answers),
        "before_non_2xx": sum(1 for a in before if not ok(a)),
        "stop_s": t_down - t_stop, "start_s": t_up - t_start,
        "down_answers": len(down), "down_statuses": statuses,
        "down_p50_ms": float(np.percentile(latency, 50)) if len(latency) else float("nan"),
        "down_p99_ms": float(np.percentile(latency, 99)) if len(latency) else float("nan"),
        "down_max_ms": float(latency.max()) if len(latency) else float("nan"),
        "first_2xx_after_up_s": first_ok - t_up,
        "last_non_2xx_after_up_s": max(0.0, last_bad - t_up),
        "non_2xx_after_up": bad_after,
        "status_500": sum(1 for a in answers if a.status == 500),
        "no_answer": sum(1 for a in answers if a.status == 0),
        "same_workers": same_workers,
    }


# --------------------------------------------------------------------------- (b) SIGKILL


def import_file(rows: int, directory: Path) -> Path:
    """A CSV of ``rows`` synthetic incidents (``bench.import_bench``'s generator)."""
    from bench.import_bench import write_incident_files

    _, csv_path, _ = write_incident_files(rows, directory)
    return csv_path


def post_import(server: Server, path: Path, source: str) -> tuple[int, dict | str]:
    """POST the file to /api/v1/import/incidents; (status, JSON body) or (0, error)."""
    from werkzeug.datastructures import FileStorage, MultiDict
    from werkzeug.test import encode_multipart

    with open(path, "rb") as stream:
        boundary, body = encode_multipart(MultiDict({
            "file": FileStorage(stream, path.name), "source": source}))
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=900)
    try:
        conn.request("POST", "/api/v1/import/incidents", body=body, headers={
            **server.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"})
        response = conn.getresponse()
        payload = response.read()
        try:
            return response.status, json.loads(payload)
        except ValueError:
            return response.status, payload[:300].decode(errors="replace")
    except (OSError, http.client.HTTPException) as exc:
        return 0, repr(exc)
    finally:
        conn.close()


def wait_for_insert(cluster: ThrowawayCluster, poster: threading.Thread, answer: list,
                    wait_s: float = 900) -> tuple[int, int]:
    """(backend pid, client port) of the running ``INSERT INTO incidents``."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if not poster.is_alive():
            raise SystemExit(f"the import answered before its INSERT was seen: {answer}")
        with cluster.admin() as conn, conn.cursor() as cur:
            cur.execute("SELECT pid, client_port FROM pg_stat_activity WHERE state = 'active' "
                        "AND query LIKE %s", ("INSERT INTO incidents%",))
            row = cur.fetchone()
        if row:
            return row
        time.sleep(0.02)
    raise SystemExit("the import's INSERT never started")


def process_with_port(pids: set[int], local_port: int) -> int:
    """Which of ``pids`` holds the TCP socket bound to 127.0.0.1:``local_port``."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == local_port:
                inodes.add(fields[9])
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                return pid
    raise SystemExit(f"no worker holds the socket of port {local_port}")


def wait_gone(cluster: ThrowawayCluster, pid: int, wait_s: float = 900) -> None:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if not scalar(cluster, "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)):
            return
        time.sleep(0.05)
    raise SystemExit(f"backend {pid} still there after {wait_s} s")


def file_state(cluster: ThrowawayCluster, source: str) -> dict:
    return {
        "rows": scalar(cluster, "SELECT count(*) FROM incidents WHERE source = %s", (source,)),
        "distinct": scalar(cluster, "SELECT count(DISTINCT external_id) FROM incidents "
                                    "WHERE source = %s", (source,)),
        "import_records": scalar(cluster, "SELECT count(*) FROM audit_log WHERE action = "
                                          "'import' AND detail->>'source' = %s", (source,)),
    }


def kill_worker_mid_import(cluster: ThrowawayCluster, server: Server, path: Path,
                           rows: int) -> dict:
    source = "killed-import"
    answer: list = []
    poster = threading.Thread(target=lambda: answer.append(post_import(server, path, source)))
    started = time.monotonic()
    poster.start()
    backend, port = wait_for_insert(cluster, poster, answer)
    worker = process_with_port(worker_pids(server), port)
    os.kill(worker, signal.SIGKILL)
    killed_after = time.monotonic() - started
    poster.join()
    wait_gone(cluster, backend)
    after_kill = file_state(cluster, source)
    t0 = time.monotonic()
    status, body = post_import(server, path, source)
    rerun_s = time.monotonic() - t0
    return {"rows": rows, "killed_after_s": killed_after, "killed_answer": answer[0][0],
            "after_kill": after_kill, "rerun_status": status,
            "rerun_inserted": body.get("inserted") if isinstance(body, dict) else body,
            "rerun_s": rerun_s, "after_rerun": file_state(cluster, source)}


# --------------------------------------------------------------------------- (c) disk full


def counts(cluster: ThrowawayCluster) -> dict:
    """Rows of incidents and audit_log."""
    with cluster.admin(APP_DATABASE) as conn, conn.cursor() as cur:
        found = {}
        for table in ("incidents", "audit_log"):
            cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
            found[table] = cur.fetchone()[0]
        return found


def disk_full(cluster: ThrowawayCluster, server: Server, path: Path) -> dict:
    mount = cluster.home / "small"
    mount.mkdir()
    table_mb = scalar(cluster, "SELECT pg_total_relation_size('incidents')") / 2**20
    size_mb = int(table_mb) + 1 + TMPFS_HEADROOM_MB
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m",  # noqa: S603,S607
                             "tmpfs", str(mount)], capture_output=True, text=True)
    if result.returncode != 0:
        return {"skipped": f"cannot mount a tmpfs: {result.stderr.strip()}"}
    try:
        embedded_db._owned_dir(mount)
        with cluster.admin(APP_DATABASE) as conn, conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE TABLESPACE small LOCATION {}").format(
                sql.Literal(str(mount))))
            cur.execute("ALTER TABLE incidents SET TABLESPACE small")
            cur.execute("SELECT indexrelid::regclass::text FROM pg_index "
                        "WHERE indrelid = 'incidents'::regclass")
            for (index,) in cur.fetchall():
                cur.execute(sql.SQL("ALTER INDEX {} SET TABLESPACE small").format(
                    sql.Identifier(index)))
        used = shutil.disk_usage(mount)
        before = counts(cluster)
        t0 = time.monotonic()
        status, body = post_import(server, path, "disk-full")
        seconds = time.monotonic() - t0
        after = counts(cluster)
        health = server.get("/healthz")[0]
        return {"tmpfs_mb": size_mb, "used_mb_before": used.used / 2**20,
                "status": status, "detail": body.get("detail") if isinstance(body, dict)
                else body, "seconds": seconds, "before": before, "after": after,
                "healthz_after": health}
    finally:
        with cluster.admin(APP_DATABASE) as conn, conn.cursor() as cur:
            cur.execute("ALTER TABLE incidents SET TABLESPACE pg_default")
            cur.execute("ALTER INDEX ALL IN TABLESPACE small SET TABLESPACE pg_default")
        with cluster.admin() as conn, conn.cursor() as cur:
            cur.execute("DROP TABLESPACE IF EXISTS small")
        subprocess.run(["umount", str(mount)], check=False)  # noqa: S603,S607


# --------------------------------------------------------------------------- (d) read-only


def _feature(ref: str) -> bytes:
    return json.dumps({
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [44.95, 41.45]},
        "properties": {"external_id": ref, "source": "read-only-bench",
                       "occurred_at": "2026-05-01T10:00:00Z",
                       "category": "illegal_crossing_between_bcp", "persons_count": 1}}).encode()


def post_feature(server: Server, ref: str) -> tuple[int, dict, float]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        t0 = time.monotonic()
        conn.request("POST", "/api/v1/incidents", body=_feature(ref), headers={
            **server.headers, "Content-Type": "application/json"})
        response = conn.getresponse()
        body = json.loads(response.read() or b"{}")
        return response.status, body, time.monotonic() - t0
    finally:
        conn.close()


def read_only(cluster: ThrowawayCluster, server: Server, small_path: Path) -> dict:
    # A read first: records the token's last use, so reads need no write for a minute.
    server.get("/api/v1/incidents?limit=1")
    before = counts(cluster)
    with cluster.admin() as conn, conn.cursor() as cur:
        cur.execute("ALTER SYSTEM SET default_transaction_read_only = on")
        cur.execute("SELECT pg_reload_conf()")
    time.sleep(1)  # the reload reaches every backend
    try:
        write = post_feature(server, "RO-1")
        imported = post_import(server, small_path, "read-only-bench")
        read_status = server.get("/api/v1/incidents?limit=10")[0]
        after = counts(cluster)
    finally:
        with cluster.admin() as conn, conn.cursor() as cur:
            cur.execute("ALTER SYSTEM RESET default_transaction_read_only")
            cur.execute("SELECT pg_reload_conf()")
        time.sleep(1)
    again = post_feature(server, "RO-1")
    return {"write_status": write[0], "write_detail": write[1].get("detail"),
            "write_ms": write[2] * 1000, "import_status": imported[0],
            "import_detail": imported[1].get("detail") if isinstance(imported[1], dict)
            else imported[1], "read_status": read_status, "before": before, "after": after,
            "write_after_reset": again[0]}


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--incidents", type=int, default=20_000,
                        help="demo incidents in the throwaway cluster")
    parser.add_argument("--import-rows", type=int, default=60_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--outage", type=float, default=5.0, help="seconds the database is down")
    args = parser.parse_args()
    # Stopped with SIGTERM, still stop gunicorn and remove the cluster (finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))

    cluster = ThrowawayCluster()
    workdir = Path(tempfile.mkdtemp(prefix="fault_bench_"))
    server = None
    try:
        cluster.create()
        print(f"throwaway cluster on 127.0.0.1:{cluster.port} ({cluster.home})", flush=True)
        headers = prepare(cluster, args.incidents)
        path = import_file(args.import_rows, workdir)
        small = workdir / "small.csv"
        with open(path) as full, open(small, "w") as part:
            for n, line in enumerate(full):
                if n > 100:
                    break
                part.write(line)
        server = start_ours(workdir, cluster, headers, args.workers)
        print(f"{args.incidents:,} demo incidents; gunicorn --workers {args.workers} "
              f"--threads 4; load average {os.getloadavg()[0]:.1f}", flush=True)

        print(f"\n(a) database stopped for {args.outage:.0f} s under load "
              f"({LOAD_CLIENTS} client threads)", flush=True)
        restart = restart_under_load(cluster, server, args.outage)
        print(json.dumps(restart, indent=1, default=str), flush=True)
        met = (restart["first_2xx_after_up_s"] <= GOAL_RECOVERY_S and restart["status_500"] == 0
               and restart["same_workers"])
        print(f"goal (first 2xx <= {GOAL_RECOVERY_S:.0f} s after the database is back, no "
              f"500, no worker restart): {'met' if met else 'NOT met'}", flush=True)

        print(f"\n(b) SIGKILL of the worker mid-import ({args.import_rows:,} rows)", flush=True)
        killed = kill_worker_mid_import(cluster, server, path, args.import_rows)
        print(json.dumps(killed, indent=1, default=str), flush=True)
        whole = (killed["after_kill"]["rows"] == 0
                 and killed["after_kill"]["import_records"] == 0
                 and killed["after_rerun"]["rows"] == args.import_rows
                 and killed["after_rerun"]["distinct"] == args.import_rows
                 and killed["after_rerun"]["import_records"] == 1)
        print(f"nothing, then everything once (audit agrees): {'yes' if whole else 'NO'}",
              flush=True)

        print("\n(c) disk full (tablespace on a tmpfs)", flush=True)
        full = disk_full(cluster, server, path)
        print(json.dumps(full, indent=1, default=str), flush=True)

        print("\n(d) read-only database", flush=True)
        print(json.dumps(read_only(cluster, server, small), indent=1, default=str), flush=True)
        print(f"\nserver log: {server.log}")
    finally:
        if server is not None:
            server.stop()
        cluster.destroy()
        for data in (*workdir.glob("*.csv"), *workdir.glob("*.gpkg")):
            data.unlink()  # the generated files; the server log stays


if __name__ == "__main__":
    main()
