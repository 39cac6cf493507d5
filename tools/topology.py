#!/usr/bin/env python3
"""A production-like topology on one machine: HAProxy in front of three uvicorn processes,
a Celery worker and one beat, against the PostgreSQL and Redis named in the environment.

    python tools/topology.py create-database   # once: CREATE DATABASE if DATABASE_URL's is missing
    python tools/topology.py start      # start everything, wait until healthy, return
    python tools/topology.py status     # which processes run, what HAProxy thinks of each web
    python tools/topology.py restart    # rolling restart of the web processes, one at a time
    python tools/topology.py stop

``make topology`` / ``make topology-stop`` run these with local defaults (Makefile). The
processes are those of the Procfile (the ``web``, ``worker`` and ``beat`` lines, read from it so
the two cannot drift apart), each web process bound to 127.0.0.1 on its own port; HAProxy runs
deploy/haproxy.cfg. Pid files and logs live in the run directory (``TOPOLOGY_RUN_DIR``, default
``<tmp>/birthcare-topology``), so ``stop`` works from another shell. tests/test_topology.py uses
the same class to kill and restart web processes under load. Standard library only.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import re
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
HAPROXY_CONFIG = BASE_DIR / "deploy" / "haproxy.cfg"
HAPROXY_ERRORS = BASE_DIR / "deploy" / "errors"
HAPROXY = "/usr/sbin/haproxy"
DEFAULT_RUN_DIR = Path(tempfile.gettempdir()) / "birthcare-topology"
DEFAULT_PROXY_PORT = 8100
DEFAULT_WEB_PORTS = (8101, 8102, 8103)
BACKEND = "web"  # the backend's name in deploy/haproxy.cfg; its servers are web1..web3
START_TIMEOUT = 40.0  # seconds until every process answers /health/ and HAProxy sees it up
STOP_TIMEOUT = 15.0  # graceful stop (uvicorn closes its sockets with 1012) before SIGKILL
# What each pid file's process must be running, checked before a signal is sent to it: a stale
# pid file must never make us signal an unrelated process that reused the pid.
PROGRAMS = {"web": "uvicorn", "worker": "celery", "beat": "celery", "haproxy": "haproxy"}

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class TopologyError(RuntimeError):
    pass


def procfile_commands(path: Path = BASE_DIR / "Procfile") -> dict[str, str]:
    """The Procfile's ``name: command`` lines."""
    commands = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([a-z]+):\s*(.+)$", line)
        if match:
            commands[match.group(1)] = match.group(2)
    return commands


def _python_module(argv: list[str]) -> list[str]:
    """Run ``uvicorn …``/``celery …`` with this interpreter, so the virtualenv need not be on PATH."""
    if argv and argv[0] in ("uvicorn", "celery"):
        return [sys.executable, "-m", *argv]
    return argv


def web_command(port: int, procfile: Mapping[str, str]) -> list[str]:
    """The Procfile's web line for one process: its own port, reachable from this machine only."""
    line = re.sub(r"\$\{PORT(:-[^}]*)?\}", str(port), procfile["web"])
    argv = shlex.split(line)
    if "--host" in argv:
        argv[argv.index("--host") + 1] = "127.0.0.1"
    return _python_module(argv)


def celery_command(name: str, run_dir: Path, procfile: Mapping[str, str]) -> list[str]:
    argv = _python_module(shlex.split(procfile[name]))
    if name == "beat":
        argv += ["--schedule", str(run_dir / "celerybeat-schedule")]
    else:
        # A name of its own, so this worker is told apart from any other on the same broker.
        argv += ["--hostname", f"topology-{os.getpid()}@%h"]
    return argv


def default_maxconn() -> int:
    """As many connections as the open-files limit allows: HAProxy needs two descriptors for each
    (client side and server side) and refuses to start if it cannot have them."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY:
        return 20000
    return max(256, min(20000, (hard - 100) // 2))


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def runs(pid: int, program: str) -> bool:
    """Whether ``pid`` is alive and its command line names ``program``."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return program in cmdline and pid_alive(pid)


@dataclass
class Topology:
    """The processes of one topology and the files that describe them (see the module docstring)."""

    env: dict[str, str]
    run_dir: Path = DEFAULT_RUN_DIR
    proxy_port: int = DEFAULT_PROXY_PORT
    web_ports: Sequence[int] = DEFAULT_WEB_PORTS
    celery: bool = True
    procfile: dict[str, str] = field(default_factory=procfile_commands)
    # Popen objects of the processes this Python process started (reaped on stop); a topology
    # loaded from pid files by another shell has only the pids.
    _children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    # --- names and files ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"

    def ws_url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.proxy_port}{path}"

    @property
    def web_names(self) -> list[str]:
        return [f"web{i}" for i in range(1, len(self.web_ports) + 1)]

    def web_port(self, name: str) -> int:
        return self.web_ports[self.web_names.index(name)]

    def pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.log"

    def log_tail(self, name: str, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file(name).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def pid(self, name: str) -> int | None:
        try:
            return int(self.pid_file(name).read_text().strip())
        except (OSError, ValueError):
            return None

    def running(self, name: str) -> bool:
        child = self._children.get(name)
        if child is not None:  # started by this process: ask the kernel through its Popen
            return child.poll() is None
        pid = self.pid(name)
        return pid is not None and runs(pid, PROGRAMS[name.rstrip("0123456789")])

    def haproxy_env(self) -> dict[str, str]:
        env = {
            **self.env,
            "TOPOLOGY_PROXY_PORT": str(self.proxy_port),
            "TOPOLOGY_RUN_DIR": str(self.run_dir),
            "TOPOLOGY_ERRORS_DIR": str(HAPROXY_ERRORS),
            "TOPOLOGY_MAXCONN": self.env.get("TOPOLOGY_MAXCONN") or str(default_maxconn()),
        }
        for name in self.web_names:
            env[f"TOPOLOGY_{name.upper()}_PORT"] = str(self.web_port(name))
        return env

    # --- starting ------------------------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str], env: Mapping[str, str]) -> None:
        if self.running(name):
            raise TopologyError(f"{name} already runs (pid {self.pid(name)}); stop the topology first")
        with open(self.log_file(name), "ab") as log:
            process = subprocess.Popen(  # noqa: S603 - fixed argument lists from the Procfile, no shell
                argv,
                cwd=BASE_DIR,
                env=dict(env),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Its own session: it outlives `make topology`, and a Ctrl-C there does not reach it.
                start_new_session=True,
            )
        self._children[name] = process
        self.pid_file(name).write_text(f"{process.pid}\n")

    def start_web(self, name: str) -> None:
        self._spawn(name, web_command(self.web_port(name), self.procfile), self.env)

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start every process and return once HAProxy routes to every web process."""
        if not Path(HAPROXY).exists():
            raise TopologyError(f"{HAPROXY} is missing (apt-get install haproxy)")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            for name in self.web_names:
                self.start_web(name)
            if self.celery:
                self._spawn("worker", celery_command("worker", self.run_dir, self.procfile), self.env)
                self._spawn("beat", celery_command("beat", self.run_dir, self.procfile), self.env)
            self._spawn("haproxy", [HAPROXY, "-f", str(HAPROXY_CONFIG), "-db"], self.haproxy_env())
            deadline = time.monotonic() + timeout
            for name in self.web_names:
                self.wait_web_healthy(name, deadline - time.monotonic())
            self.wait_proxy_sees(self.web_names, up=True, timeout=deadline - time.monotonic())
            self.wait_proxy_healthy(deadline - time.monotonic())
        except BaseException:
            self.stop()
            raise

    # --- health ---------------------------------------------------------------------------------

    @staticmethod
    def _healthy(url: str) -> bool:
        try:
            with _NO_PROXY.open(f"{url}/health/", timeout=3) as response:
                return bool(response.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def wait_web_healthy(self, name: str, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            if not self.running(name):
                raise TopologyError(f"{name} exited:\n{self.log_tail(name)}")
            if self._healthy(f"http://127.0.0.1:{self.web_port(name)}"):
                return
            if time.monotonic() > deadline:
                raise TopologyError(f"{name} not healthy in time:\n{self.log_tail(name)}")
            time.sleep(0.1)

    def wait_proxy_healthy(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + max(timeout, 0.0)
        while not self._healthy(self.url):
            if not self.running("haproxy"):
                raise TopologyError(f"haproxy exited:\n{self.log_tail('haproxy')}")
            if time.monotonic() > deadline:
                raise TopologyError(f"{self.url}/health/ not healthy in time:\n{self.log_tail('haproxy')}")
            time.sleep(0.1)

    # --- HAProxy's runtime API ------------------------------------------------------------------

    def admin(self, command: str) -> str:
        """One command on HAProxy's admin socket (deploy/haproxy.cfg, ``stats socket``)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(str(self.run_dir / "haproxy.sock"))
            sock.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")

    def servers(self) -> dict[str, dict[str, str]]:
        """HAProxy's view of each web process: ``status`` (UP, DOWN, DRAIN, MAINT…), ``scur`` (open
        connections, board sockets included) and the rest of ``show stat``."""
        text = self.admin("show stat").lstrip("# ")
        rows = csv.DictReader(io.StringIO(text))
        return {row["svname"]: row for row in rows if row["pxname"] == BACKEND and row["svname"] in self.web_names}

    def sessions(self) -> dict[str, int]:
        return {name: int(row["scur"] or 0) for name, row in self.servers().items()}

    def wait_proxy_sees(self, names: Sequence[str], *, up: bool, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            if not self.running("haproxy"):
                raise TopologyError(f"haproxy exited:\n{self.log_tail('haproxy')}")
            with contextlib.suppress(OSError):
                status = {name: row["status"] for name, row in self.servers().items()}
                if all(status.get(name, "").startswith("UP") == up for name in names):
                    return
            if time.monotonic() > deadline:
                raise TopologyError(f"HAProxy does not see {list(names)} {'up' if up else 'down'} in time")
            time.sleep(0.1)

    # --- stopping and restarting ----------------------------------------------------------------

    def _signal(self, name: str, sig: signal.Signals) -> int | None:
        pid = self.pid(name)
        if pid is None or not self.running(name):
            return None
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        return pid

    def _wait_gone(self, name: str, pid: int, timeout: float) -> bool:
        child = self._children.get(name)
        if child is not None and child.pid == pid:
            try:
                child.wait(timeout)
            except subprocess.TimeoutExpired:
                return False
            return True
        deadline = time.monotonic() + timeout
        while pid_alive(pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def stop_process(self, name: str, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM, then SIGKILL to the process group it leads (a Celery worker's children too)."""
        pid = self._signal(name, signal.SIGTERM)
        if pid is not None and not self._wait_gone(name, pid, timeout):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)  # the group this script created for it (start_new_session)
            self._wait_gone(name, pid, 5)
        self._children.pop(name, None)
        with contextlib.suppress(OSError):
            self.pid_file(name).unlink()

    def kill_web(self, name: str) -> None:
        """SIGKILL one web process, as a crash would: no graceful close of its sockets."""
        pid = self._signal(name, signal.SIGKILL)
        if pid is None:
            raise TopologyError(f"{name} is not running")
        self._wait_gone(name, pid, 5)

    def restart_web(self, name: str, timeout: float = START_TIMEOUT) -> None:
        """Graceful restart of one web process without refusing a request.

        Drained first (HAProxy sends it nothing new), stopped (it finishes its requests and closes
        its board sockets with 1012; their boards reconnect through HAProxy to another process),
        started, and put back in rotation once its own /health/ answers.
        """
        self.admin(f"set server {BACKEND}/{name} state drain")
        self.stop_process(name)
        self.start_web(name)
        self.wait_web_healthy(name, timeout)
        self.admin(f"set server {BACKEND}/{name} state ready")
        self.wait_proxy_sees([name], up=True, timeout=timeout)

    def rolling_restart(self) -> None:
        for name in self.web_names:
            self.restart_web(name)

    def stop(self) -> None:
        """Stop everything that still runs: the proxy first (no new work), then the rest."""
        for name in ["haproxy", *self.web_names, "beat", "worker"]:
            self.stop_process(name)

    def status(self) -> str:
        lines = []
        for name in [*self.web_names, "worker", "beat", "haproxy"]:
            pid = self.pid(name)
            lines.append(
                f"{name:8} {'running' if self.running(name) else 'stopped'}" + (f" (pid {pid})" if pid else "")
            )
        if self.running("haproxy"):
            with contextlib.suppress(OSError):
                for name, row in self.servers().items():
                    lines.append(f"haproxy: {name} {row['status']}, {row['scur']} open connections")
        return "\n".join(lines)


def create_database(database_url: str) -> bool:
    """Create the database DATABASE_URL names if it is missing (``make topology`` on a fresh
    machine); True if it was created. Needs psycopg, as the app does."""
    import urllib.parse

    import psycopg
    from psycopg import sql

    parts = urllib.parse.urlsplit(database_url)
    name = urllib.parse.unquote(parts.path.lstrip("/"))
    admin_url = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return True


def from_environment(env: Mapping[str, str] = os.environ) -> Topology:
    ports = env.get("TOPOLOGY_WEB_PORTS")
    return Topology(
        env=dict(env),
        run_dir=Path(env.get("TOPOLOGY_RUN_DIR") or DEFAULT_RUN_DIR),
        proxy_port=int(env.get("TOPOLOGY_PROXY_PORT") or DEFAULT_PROXY_PORT),
        web_ports=tuple(int(p) for p in ports.split(",")) if ports else DEFAULT_WEB_PORTS,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("command", choices=["create-database", "start", "stop", "status", "restart"])
    args = parser.parse_args(argv)
    topology = from_environment()
    if len(topology.web_ports) != 3:
        parser.error("TOPOLOGY_WEB_PORTS needs three ports: deploy/haproxy.cfg names web1..web3")
    try:
        if args.command == "create-database":
            url = os.environ.get("DATABASE_URL", "")
            if not url.startswith(("postgres://", "postgresql://")):
                parser.error("DATABASE_URL must name a PostgreSQL database")
            print(f"created {url}" if create_database(url) else f"{url} exists")
        elif args.command == "start":
            missing = [
                name
                for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS")
                if not os.environ.get(name)
            ]
            if missing:
                parser.error(f"set {', '.join(missing)} (the Makefile's topology target sets local defaults)")
            topology.start()
            print(f"topology up: {topology.url}/  (logs and pid files in {topology.run_dir})")
            print(topology.status())
        elif args.command == "restart":
            topology.rolling_restart()
            print(topology.status())
        elif args.command == "stop":
            topology.stop()
            print("topology stopped")
        else:
            print(topology.status())
    except TopologyError as error:
        print(f"topology: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    # Only for the interactive commands: a missing haproxy binary is an error, not a traceback.
    if not shutil.which(HAPROXY):
        print(f"topology: {HAPROXY} is missing (apt-get install haproxy)", file=sys.stderr)
        sys.exit(1)
    sys.exit(main())
