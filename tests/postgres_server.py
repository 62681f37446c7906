"""A real PostgreSQL server for tests and benchmarks: Debian's initdb and pg_ctl, as an unprivileged user, listening
on 127.0.0.1 on a free port, with its data in a folder of its own; and a streaming standby of it, to promote.

PostgreSQL refuses to run as root, so under root (CI, `make test`) the server runs as Debian's `postgres` user,
which owns the data folder. Clients sign in as `cityops` with a password (scram-sha-256), as a production node does.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

from cityops.broker import blocking_folders, free_port, wait_for_port

USER = "cityops"
PASSWORD = "cityops-test-password"  # a server made for one test run, on loopback only
SERVER_USER = "postgres"  # Debian's package makes it


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's programs (Debian keeps them out of PATH, one folder per version)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else None


def missing_message() -> str:
    return ("PostgreSQL is not installed: run `make test` as root, or `sudo apt-get install postgresql` "
            "(its initdb and pg_ctl start a private server for the tests)")  # fmt: skip


class PostgresServer:
    """One server: `start()` makes its data folder on first use (initdb, or a base backup of `primary` for a standby)
    and starts it; `kill()` is a crash (SIGKILL of the postmaster), `stop()` an orderly shutdown."""

    def __init__(self, folder: Path, *, primary: PostgresServer | None = None, durable: bool = True,
                 synchronous: bool = False):  # fmt: skip
        """`durable=False` turns fsync off: for tests that never crash the machine, not the server, it is the same
        server, only faster. `synchronous`: a commit waits until a standby has the WAL too, so that promoting the
        standby loses no commit the primary confirmed."""
        bin_dir = postgres_bin()
        if bin_dir is None:
            raise RuntimeError(missing_message())
        self.bin = bin_dir
        self.folder = Path(folder).absolute()
        self.data = self.folder / "data"
        self.primary = primary
        self.durable = durable
        self.synchronous = synchronous
        self.port = free_port()
        self.as_user = _as_server_user()

    def url(self, database: str = "cityops", *, hosts: list[PostgresServer] | None = None) -> str:
        """A libpq URL (without the password) to `database` on this server, or on `hosts` in order, asking for the
        one that takes writes."""
        if hosts is None:
            return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"
        listed = ",".join(f"127.0.0.1:{h.port}" for h in hosts)
        return f"postgresql://{USER}@{listed}/{database}?target_session_attrs=read-write&connect_timeout=3"

    def start(self) -> PostgresServer:
        if not self.data.exists():
            self._make_data()
        log = self.folder / "server.log"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(log), "-w", "-t", "60", "-o", f"-p {self.port}", "start")
        wait_for_port(self.port, timeout=30)
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def kill(self) -> None:
        """The server dies at once, as in a power cut of its process (its children follow the postmaster)."""
        pid = self.pid()
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.05)

    def promote(self) -> None:
        """A standby becomes the primary (pg_ctl promote waits until it takes writes)."""
        self._run("pg_ctl", "-D", str(self.data), "-w", "promote")

    def pid(self) -> int | None:
        with contextlib.suppress(FileNotFoundError, ValueError, IndexError):
            return int((self.data / "postmaster.pid").read_text().split()[0])
        return None

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run `sql` as the cityops user; its output, unaligned."""
        done = subprocess.run(
            [str(self.bin / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
             "-p", str(self.port), "-U", USER, "-d", database, "-c", sql],
            capture_output=True, text=True, env={**os.environ, "PGPASSWORD": PASSWORD}, timeout=120,
        )  # fmt: skip
        if done.returncode:
            raise RuntimeError(f"psql failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def _make_data(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.as_user:  # test folders are 700: the server's user must pass through them to its own
            for folder in blocking_folders(self.folder, pwd.getpwnam(SERVER_USER)):
                folder.chmod(folder.stat().st_mode | 0o001)
        self._give(self.folder)
        if self.primary is not None:
            self._run("pg_basebackup", "-D", str(self.data), "-h", "127.0.0.1", "-p", str(self.primary.port),
                      "-U", USER, "-R", "-X", "stream", "-c", "fast",
                      env={"PGPASSWORD": PASSWORD})  # fmt: skip
            # The copy carries the primary's settings; promoted, it must not wait for a synchronous standby of its
            # own that does not exist (every commit would hang).
            with (self.data / "postgresql.auto.conf").open("a", encoding="utf-8") as conf:
                conf.write("synchronous_standby_names = ''\n")
            return
        pwfile = self.folder / "password"
        pwfile.write_text(PASSWORD)
        self._give(pwfile)
        self._run("initdb", "-D", str(self.data), "-U", USER, f"--pwfile={pwfile}", "-E", "UTF8",
                  "--locale=C.UTF-8", "--auth-local=scram-sha-256", "--auth-host=scram-sha-256")  # fmt: skip
        pwfile.unlink()
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": "''",
            "max_connections": "200",
            "shared_buffers": "'256MB'",
            "wal_level": "replica",
            "max_wal_senders": "5",
            "wal_keep_size": "'512MB'",
            "hot_standby": "on",
            "fsync": "on" if self.durable else "off",
            "synchronous_commit": "on" if self.durable else "off",
            "full_page_writes": "on" if self.durable else "off",
            "timezone": "'UTC'",
            "log_min_messages": "warning",
            **({"synchronous_standby_names": "'*'"} if self.synchronous else {}),
        }
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("\n# tests/postgres_server.py\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        with (self.data / "pg_hba.conf").open("a", encoding="utf-8") as hba:
            hba.write(f"host replication {USER} 127.0.0.1/32 scram-sha-256\n")

    def _give(self, path: Path) -> None:
        if self.as_user:
            user = pwd.getpwnam(SERVER_USER)
            os.chown(path, user.pw_uid, user.pw_gid)

    def _run(self, program: str, *args: str, check: bool = True, env: dict | None = None) -> None:
        command = [*self.as_user, str(self.bin / program), *args]
        done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **(env or {})},
                              cwd=self.folder, timeout=180)  # fmt: skip
        if check and done.returncode:
            log = self.folder / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr.strip()}\n{tail}")


def _as_server_user() -> list[str]:
    """The command prefix that runs a program as the server's user: none unless we are root."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError as exc:
        raise RuntimeError(f"running as root needs the `{SERVER_USER}` user of Debian's postgresql package") from exc
    return [shutil.which("runuser") or "/usr/sbin/runuser", "-u", SERVER_USER, "--"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(FileNotFoundError):
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    return False
