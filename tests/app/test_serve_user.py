"""``make run``'s server never runs as root (issue 14 item 1): ``python -m app.serve``.

The launcher is run for real, as ``make run`` runs it, against an instance directory of
the test's own (``BORDERRISK_INSTANCE_DIR``) and the test database: it serves
``/healthz`` from gunicorn, and the master and worker processes are read from /proc.
Run as root (CI), they must be the ``borderrisk`` user's, which alone reads the web
app's secrets, while the owner role's password stays root's; run as another user, the
launcher serves as that user and changes no file.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from app.serve import OPT_OUT, SERVICE_USER
from bench.servers import free_port
from config import BASE_DIR

pytestmark = pytest.mark.slow

AS_ROOT = os.geteuid() == 0


@pytest.fixture
def instance_dir():
    """An instance directory like ``make run``'s (0755, in /tmp: pytest's own temporary
    directories are closed to other users) with every file ``make`` leaves there, each
    readable by anybody to begin with, and an upload an earlier server left."""
    path = Path(tempfile.mkdtemp(prefix="borderrisk-serve-"))
    path.chmod(0o755)
    for name in ("secret_key", "pg-password", "pg-owner-password", "demo-password",
                 "pg-replicator-password"):
        (path / name).write_text(f"{name}-{os.urandom(8).hex()}\n")
        (path / name).chmod(0o644)
    (path / "pg-port").write_text("54329\n")
    (path / "uploads").mkdir(mode=0o700)
    (path / "uploads" / "job-1.csv").write_text("left by an earlier server\n")
    yield path
    shutil.rmtree(path)


def launcher_env(app, instance: Path, **extra) -> dict:
    """``make run``'s environment for the test database: the app's and the owner's URLs,
    no SECRET_KEY (the one in ``instance/`` serves), uploads in ``instance/``."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("SECRET_KEY", "UPLOAD_DIR", "BORDERRISK_ENV", OPT_OUT)}
    env.update(BORDERRISK_INSTANCE_DIR=str(instance),
               DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
               DATABASE_OWNER_URL=app.config["DATABASE_OWNER_URI"], **extra)
    return env


def launch(env: dict, port: int, log: Path, python: str = sys.executable) -> subprocess.Popen:
    """``python -m app.serve`` with ``make run``'s gunicorn options, two workers."""
    command = [python, "-m", "app.serve", "--config", "python:app.gunicorn_conf",
               "--workers", "2", "--threads", "1", "--timeout", "60",
               "--bind", f"127.0.0.1:{port}", "app:create_app()"]
    with open(log, "wb") as out:
        return subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def wait_healthy(process: subprocess.Popen, port: int, log: Path) -> dict:
    """The JSON of ``/healthz`` once it answers 200 (60 s at most)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the server exited:\n{log.read_text()[-3000:]}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as r:  # noqa: S310
                return json.loads(r.read())
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"no answer from /healthz within 60 s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_gone(pid: int, wait_s: float = 30.0) -> bool:
    """Whether process ``pid`` ended (or became a zombie) within ``wait_s``."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            if proc_status(pid).get("State", "").startswith("Z"):
                return True
        except OSError:
            return True
        time.sleep(0.2)
    return False


def test_the_worker_beside_the_server_stops_when_the_server_is_gone(app, instance_dir,
                                                                    tmp_path):
    """Killed alone (no Ctrl-C reaches the worker), the server's worker notices its
    parent is gone and stops (``--with-parent``)."""
    port, log = free_port(), tmp_path / "serve.log"
    env = launcher_env(app, instance_dir, WORKER_POLL_S="0.5")
    process = launch(env, port, log)
    try:
        wait_healthy(process, port, log)
        [background] = background_workers_of(process.pid)
        process.send_signal(signal.SIGKILL)  # the master only
        process.wait(timeout=30)
        assert wait_gone(background), "the worker outlived the server"
    finally:
        stop(process)


def proc_status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return dict(line.split(":\t", 1) for line in lines if ":\t" in line)


def children_of(master: int) -> list[int]:
    """The child processes of ``master``."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if proc_status(int(entry.name)).get("PPid") == str(master):
                    children.append(int(entry.name))
            except OSError:
                pass  # ended meanwhile
    return children


def command_line(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


def is_background_worker(pid: int) -> bool:
    """Whether ``pid`` is the ``flask worker`` started beside gunicorn."""
    return "worker" in command_line(pid) and "flask" in command_line(pid)


def workers_of(master: int) -> list[int]:
    """gunicorn's workers: the children of ``master`` but the background worker."""
    return [pid for pid in children_of(master) if not is_background_worker(pid)]


def background_workers_of(master: int, wait_s: float = 30.0) -> list[int]:
    """The ``flask worker`` processes beside gunicorn (waiting for one up to
    ``wait_s``)."""
    deadline = time.monotonic() + wait_s
    while True:
        found = [pid for pid in children_of(master) if is_background_worker(pid)]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def identity(pid: int) -> tuple[set[int], set[int], set[int]]:
    """Real/effective/saved/filesystem uids, the same of gids, and the groups of ``pid``."""
    status = proc_status(pid)
    return ({int(n) for n in status["Uid"].split()}, {int(n) for n in status["Gid"].split()},
            {int(n) for n in status["Groups"].split()})


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def owner_and_mode(path: Path) -> tuple[str, int]:
    stat = path.stat()
    return pwd.getpwuid(stat.st_uid).pw_name, stat.st_mode & 0o777


def readable_by(user: pwd.struct_passwd, path: Path) -> bool:
    """Whether a process of ``user`` (no supplementary group) can open ``path``."""
    result = subprocess.run(["cat", str(path)], user=user.pw_uid, group=user.pw_gid,
                            extra_groups=[], capture_output=True, check=False)
    return result.returncode == 0


def test_make_run_serves_as_the_unprivileged_user(app, instance_dir, tmp_path):
    before = {name: owner_and_mode(instance_dir / name)
              for name in ("secret_key", "pg-password", "pg-owner-password", "demo-password",
                           "uploads", "uploads/job-1.csv")}
    port, log = free_port(), tmp_path / "serve.log"
    process = launch(launcher_env(app, instance_dir), port, log)
    try:
        health = wait_healthy(process, port, log)
        assert health["status"] == "ok"
        workers = workers_of(process.pid)
        assert len(workers) == 2, log.read_text()
        # The worker beside it: one `flask worker --with-parent <master>`.
        [background] = background_workers_of(process.pid)
        assert command_line(background)[-3:-1] == ["--with-parent", str(process.pid)]
        served = [process.pid, *workers, background]  # the launcher became the master
        identities = [identity(pid) for pid in served]
        environments = [environ_of(pid) for pid in served]
    finally:
        stop(process)  # the process group, as Ctrl-C
    assert not Path(f"/proc/{background}").exists() or wait_gone(background)
    for env in environments:
        assert "DATABASE_OWNER_URL" not in env

    if not AS_ROOT:  # gunicorn as the user who ran `make run`; no file changed
        me = os.getuid()
        assert all(ids[0] == {me} for ids in identities)
        assert {name: owner_and_mode(instance_dir / name) for name in before} == before
        return

    user = pwd.getpwnam(SERVICE_USER)
    assert user.pw_uid != 0
    assert user.pw_shell == "/usr/sbin/nologin"
    for uids, gids, groups in identities:
        assert uids == {user.pw_uid}
        assert gids == {user.pw_gid}
        assert 0 not in groups
    for env in environments:  # the owner's URL is for migrations, root's
        assert "DATABASE_OWNER_URL" not in env
        assert env["DATABASE_URL"] == app.config["SQLALCHEMY_DATABASE_URI"]
    for name in ("secret_key", "pg-password"):
        assert owner_and_mode(instance_dir / name) == (SERVICE_USER, 0o600)
    assert owner_and_mode(instance_dir / "uploads") == (SERVICE_USER, 0o700)
    assert owner_and_mode(instance_dir / "uploads" / "job-1.csv")[0] == SERVICE_USER
    for name in ("pg-owner-password", "demo-password", "pg-replicator-password"):
        assert owner_and_mode(instance_dir / name) == ("root", 0o600)
        assert not readable_by(user, instance_dir / name)
    assert readable_by(user, instance_dir / "secret_key")


@pytest.mark.skipif(not AS_ROOT, reason="only root's `make run` changes user")
def test_a_venv_the_user_cannot_run_stops_with_one_line_unless_opted_out(app, instance_dir,
                                                                          tmp_path):
    """A checkout (here: its venv) where ``borderrisk`` cannot go, as under /root: one
    line saying why and what to do, no server; with the opt-out, a server as root."""
    closed = Path(tempfile.mkdtemp(prefix="borderrisk-closed-"))  # 0700, root's
    try:
        (closed / "venv").symlink_to(Path(sys.executable).parent.parent)
        python = str(closed / "venv" / "bin" / "python")
        port, log = free_port(), tmp_path / "refused.log"
        process = launch(launcher_env(app, instance_dir), port, log, python=python)
        assert process.wait(timeout=120) == 1
        lines = log.read_text().splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith(f"error: the web server's user '{SERVICE_USER}' cannot "
                                   f"start the app in {BASE_DIR} ({python}: Permission denied)")
        assert "not under /root" in lines[0] and f"{OPT_OUT}=1" in lines[0]

        log = tmp_path / "as-root.log"
        process = launch(launcher_env(app, instance_dir, **{OPT_OUT: "1"}), port, log,
                         python=python)
        try:
            assert wait_healthy(process, port, log)["status"] == "ok"
            assert identity(process.pid)[0] == {0}
        finally:
            stop(process)
        assert "serving as root (not recommended)" in log.read_text()
    finally:
        shutil.rmtree(closed)


@pytest.mark.skipif(not AS_ROOT, reason="root reads every file")
def test_a_dotenv_the_server_cannot_read_is_skipped(tmp_path):
    """Root's ``.env`` (0600, as the launcher leaves it) does not stop the server's
    ``import config``: the settings come in its environment. A copy of config.py beside
    such a ``.env``, imported as root and as the service user."""
    from app.serve import service_user
    from tests.test_config import copy_config_module

    user = service_user()
    checkout = Path(tempfile.mkdtemp(prefix="borderrisk-dotenv-"))
    try:
        checkout.chmod(0o755)
        copy_config_module(checkout)
        (checkout / ".env").write_text("BORDERRISK_PG_PORT=6123\n")
        (checkout / ".env").chmod(0o600)
        env = {k: v for k, v in os.environ.items()
               if k not in ("BORDERRISK_PG_PORT", "PYTHONPATH")}
        env["BORDERRISK_INSTANCE_DIR"] = str(checkout / "instance")
        command = [sys.executable, "-B", "-c", "import config; print(config.EMBEDDED_PG_PORT)"]
        as_root = subprocess.run(command, cwd=checkout, env=env, capture_output=True,
                                 text=True, check=True)
        as_user = subprocess.run(command, cwd=checkout, env=env, capture_output=True,
                                 text=True, check=True, user=user.pw_uid, group=user.pw_gid,
                                 extra_groups=[])
        assert as_root.stdout.strip() == "6123"
        assert as_user.stdout.strip() == "54329"
    finally:
        shutil.rmtree(checkout)
