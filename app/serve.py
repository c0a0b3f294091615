"""``make run``'s gunicorn, never as root: ``python -m app.serve GUNICORN-ARGUMENTS...``.

Started by another user, it runs ``.venv/bin/gunicorn`` with the arguments as they are.
Started by root, it serves as the unprivileged OS user ``borderrisk`` (a system user
without home or shell, created the first time), as the embedded PostGIS runs as
``postgres``:

- the settings are checked as root first (``Config.from_env``, which also generates
  ``instance/secret_key`` when ``SECRET_KEY`` is unset);
- the files the web app reads or writes under ``instance/`` become that user's:
  ``secret_key`` and ``pg-password`` (mode 0600) and ``UPLOAD_DIR`` (0700, with what an
  earlier server left in it); the owner role's ``pg-owner-password``, the replication
  role's ``pg-replicator-password`` and the CLI's ``demo-password`` are made root's
  alone (0600), and so is ``.env``, which may hold ``DATABASE_OWNER_URL``;
- the server gets its settings through the environment (``config`` skips a ``.env`` it
  may not read), without ``DATABASE_OWNER_URL``: migrations are root's ``make`` steps;
- that user must be able to start the app (``create_app()`` in a child process as that
  user); when it cannot (a checkout under /root, say), one line says why and what to do;
- then the process becomes that user (its groups, gid and uid) and execs gunicorn, whose
  workers inherit it. Port 5000 needs no privilege.

Beside gunicorn it starts the worker (``flask worker --with-parent <pid>``: webhooks and
the other background jobs, ``app.worker``) as a child of this process, which then
becomes gunicorn's master by ``exec``: the worker runs as the same user with the same
settings (never ``DATABASE_OWNER_URL``), stops when the master is gone, and, in the
same process group, gets the terminal's Ctrl-C with it.

``BORDERRISK_SERVE_AS_ROOT=1`` serves as root anyway (not recommended).
"""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path

import config

SERVICE_USER = "borderrisk"
OPT_OUT = "BORDERRISK_SERVE_AS_ROOT"
# Secrets of the web server (its user reads them) and of root's commands (it must not).
SERVER_SECRETS = ("secret_key", "pg-password")
ROOT_SECRETS = ("pg-owner-password", "demo-password", "pg-replicator-password")
# Settings the server must not hold: the schema owner's URL is for migrations only.
WITHHELD = ("DATABASE_OWNER_URL",)
START_CHECK = "from app import create_app; create_app()"
# The worker started beside the server (with this process's id appended).
WORKER_ARGUMENTS = ("-m", "flask", "--app", "app", "worker", "--with-parent")


class ServeError(RuntimeError):
    """The server cannot be started as the service user; the message says why."""


def gunicorn_path() -> Path:
    """The venv's gunicorn, next to the interpreter running this module."""
    return Path(sys.executable).parent / "gunicorn"


def service_user() -> pwd.struct_passwd:
    """The ``borderrisk`` OS user, created as a system user when missing."""
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        pass
    result = subprocess.run(  # noqa: S603
        ["useradd", "--system", "--user-group", "--no-create-home",  # noqa: S607
         "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", SERVICE_USER],
        capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ServeError(f"could not create the OS user {SERVICE_USER!r} (useradd: "
                         f"{result.stderr.strip() or result.returncode})")
    return pwd.getpwnam(SERVICE_USER)


def _set_file(path: Path, uid: int, gid: int, mode: int) -> bool:
    """Give the file ``path`` (never a link) to ``uid:gid`` with ``mode``; False when it
    does not exist."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise ServeError(f"{path} must be a regular file ({exc.strerror})") from None
    try:
        os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    return True


def _give_tree(top: Path, uid: int, gid: int) -> None:
    """``top`` and everything in it to ``uid:gid``, following no link."""
    for directory, subdirs, files in os.walk(top, followlinks=False):
        for name in (*subdirs, *files):
            os.chown(os.path.join(directory, name), uid, gid, follow_symlinks=False)
    os.chown(top, uid, gid)
    top.chmod(0o700)


def _upload_dir(path: Path, user: pwd.struct_passwd) -> None:
    """``UPLOAD_DIR`` made or given to the service user (0700). An existing one of
    root's is taken only when it is empty or the app's own under ``instance/`` (an
    earlier server's, run as root): never a directory of other files."""
    path = path.resolve()
    if not path.exists():
        path.mkdir(mode=0o700, parents=True)
    owner = path.stat().st_uid
    if owner == user.pw_uid:
        return
    if owner != 0 or (any(path.iterdir())
                      and config.INSTANCE_DIR.resolve() not in path.parents):
        raise ServeError(f"UPLOAD_DIR {path} is another user's, or root's with files in it: "
                         f"give it to {SERVICE_USER} (chown -R {SERVICE_USER}: {path}) or set "
                         "UPLOAD_DIR to a directory of its own")
    _give_tree(path, user.pw_uid, user.pw_gid)


def prepare_files(settings: config.Config, user: pwd.struct_passwd) -> None:
    """The service user's files under ``instance/`` are its own (0600, uploads 0700);
    root's secrets and ``.env`` are readable by their owner only."""
    for name in SERVER_SECRETS:
        _set_file(config.INSTANCE_DIR / name, user.pw_uid, user.pw_gid, 0o600)
    for name in ROOT_SECRETS:
        _set_file(config.INSTANCE_DIR / name, 0, 0, 0o600)
    dotenv = config.DOTENV_FILE
    if dotenv.exists() and dotenv.stat().st_mode & 0o077:
        stat = dotenv.stat()
        _set_file(dotenv, stat.st_uid, stat.st_gid, stat.st_mode & 0o700)
        print(f"{dotenv} made readable by its owner only: it may hold DATABASE_OWNER_URL",
              file=sys.stderr)
    _upload_dir(Path(settings.UPLOAD_DIR), user)


def served_environment(user: pwd.struct_passwd) -> dict[str, str]:
    """This environment (``.env`` included, read by root) for the service user, without
    the settings it must not hold."""
    env = withheld_environment()
    env.update(HOME=user.pw_dir, USER=user.pw_name, LOGNAME=user.pw_name)
    return env


def check_start(user: pwd.struct_passwd, env: dict[str, str]) -> None:
    """The service user can run this venv's Python and start the app from the checkout."""
    why_not = ""
    try:
        result = subprocess.run(  # noqa: S603
            [sys.executable, "-c", START_CHECK], cwd=config.BASE_DIR, env=env,
            user=user.pw_uid, group=user.pw_gid, extra_groups=[], capture_output=True,
            text=True, timeout=300, check=False)
    except OSError as exc:
        why_not = f"{sys.executable}: {exc.strerror}"
    else:
        if result.returncode != 0:
            lines = [line for line in result.stderr.splitlines() if line.strip()]
            why_not = lines[-1].strip() if lines else f"exit status {result.returncode}"
    if why_not:
        raise ServeError(
            f"the web server's user {SERVICE_USER!r} cannot start the app in "
            f"{config.BASE_DIR} ({why_not}): put the checkout where that user can read it "
            "(not under /root: every directory above it must let others in) and run "
            f"`make run` there, or start it as a user other than root; {OPT_OUT}=1 serves "
            "as root (not recommended)")


def start_worker(env: dict[str, str]) -> subprocess.Popen:
    """``flask worker`` as a child of this process (soon gunicorn's master), in its
    process group, with ``env``."""
    return subprocess.Popen(  # noqa: S603
        [sys.executable, *WORKER_ARGUMENTS, str(os.getpid())], cwd=config.BASE_DIR,
        env=env)


def withheld_environment() -> dict[str, str]:
    """This environment without the settings the server must not hold."""
    return {k: v for k, v in os.environ.items() if k not in WITHHELD}


def become(user: pwd.struct_passwd) -> None:
    """This process from now on runs as ``user`` (its groups first, the uid last)."""
    os.initgroups(user.pw_name, user.pw_gid)
    os.setgid(user.pw_gid)
    os.setuid(user.pw_uid)


def main(argv: list[str]) -> int:
    gunicorn = str(gunicorn_path())
    command = [gunicorn, *argv]
    if os.geteuid() != 0:
        start_worker(withheld_environment())
        os.execv(gunicorn, command)  # noqa: S606
    if os.environ.get(OPT_OUT, "").strip().lower() in ("1", "true", "yes", "on"):
        print(f"warning: {OPT_OUT} is set: serving as root (not recommended)",
              file=sys.stderr)
        start_worker(withheld_environment())
        os.execv(gunicorn, command)  # noqa: S606
    try:
        settings = config.Config.from_env()
        user = service_user()
        prepare_files(settings, user)
        env = served_environment(user)
        check_start(user, env)
    except (config.ConfigError, ServeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"serving as the unprivileged OS user {SERVICE_USER!r} (uid {user.pw_uid})",
          file=sys.stderr)
    os.chdir(config.BASE_DIR)
    become(user)
    start_worker(env)
    os.execve(gunicorn, command, env)  # noqa: S606
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
