"""The local AWS as background processes: moto's server (S3, IAM, STS, KMS) and the Personalize emulator.

They outlive the command that started them, so `status`, `destroy`, the AWS CLI and boto3 keep working
after `make demo`. `.personalize-local/services.json` records their pids, ports and a session id; stack
states carry that session id, because moto keeps everything in memory: once the services stop, the
stacks deployed into them are gone too. `.personalize-local/env.sh` exports the variables that point
the AWS CLI and boto3 at them.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from personalize_tools.cli_common import PROJECT_ROOT
from personalize_tools.localdeploy.aws import DEFAULT_ACCOUNT, DEFAULT_REGION, Endpoints
from personalize_tools.localdeploy.errors import ServicesError
from personalize_tools.localdeploy.state import StateStore

HOST = "127.0.0.1"
NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, never a proxy
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
# Statuses take seconds, so a demo shows CREATE PENDING → CREATE IN_PROGRESS → ACTIVE.
DEMO_PACE: dict[str, float] = {
    "dataset_group": 4.0,
    "dataset": 4.0,
    "import_job": 8.0,
    "event_tracker": 4.0,
    "recommender": 10.0,
    "delete": 2.0,
    "dataset_update": 4.0,
}


@dataclass(frozen=True)
class ServiceProcess:
    name: str
    pid: int
    url: str
    log: str
    command_marker: str  # a word of its command line: a reused pid is never mistaken for it


@dataclass(frozen=True)
class LocalServices:
    session: str
    region: str
    account: str
    moto: ServiceProcess
    emulator: ServiceProcess
    pace: dict[str, float]

    @property
    def endpoints(self) -> Endpoints:
        return Endpoints(
            personalize=self.emulator.url, aws=self.moto.url, region=self.region, account=self.account
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LocalServices:
        return cls(
            session=data["session"],
            region=data["region"],
            account=data["account"],
            moto=ServiceProcess(**data["moto"]),
            emulator=ServiceProcess(**data["emulator"]),
            pace=dict(data["pace"]),
        )

    def describe(self) -> str:
        return (
            f"  Personalize emulator       {self.emulator.url}  (pid {self.emulator.pid}, admin "
            f"{self.emulator.url}/_emulator/state)\n"
            f"  moto (S3, IAM, STS, KMS)   {self.moto.url}  (pid {self.moto.pid}, dashboard "
            f"{self.moto.url}/moto-api/)\n"
            f"  region {self.region}, account {self.account}; logs in {Path(self.moto.log).parent}"
        )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex((HOST, port)) == 0


def still_running(process: ServiceProcess) -> bool:
    """Whether the recorded pid is still our service (not a zombie, not a reused pid)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(process.pid, os.WNOHANG)  # reap it if we started it and it has exited
    proc = Path(f"/proc/{process.pid}")
    if proc.exists():
        try:
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return False
        return state != "Z" and process.command_marker in command
    try:
        os.kill(process.pid, 0)
    except OSError:
        return False
    return True


def answers(url: str) -> bool:
    """Whether anything answers HTTP at the URL (directly, never through a proxy)."""
    try:
        with NO_PROXY_OPENER.open(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer means it is up
    except (OSError, http.client.HTTPException):
        return False


def _stop_child(child: subprocess.Popen[bytes]) -> None:
    """Stop a service this process started and that did not come up."""
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _service_environment(region: str, account: str) -> dict[str, str]:
    """The services' environment: the user's, without any AWS setting of theirs, plus dummy credentials,
    so a profile or real keys can never reach them."""
    credentials = Endpoints(personalize="", aws="", region=region, account=account).environment()
    return {
        **{key: value for key, value in os.environ.items() if not key.startswith("AWS_")},
        "AWS_ACCESS_KEY_ID": credentials["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": credentials["AWS_SECRET_ACCESS_KEY"],
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


class ServiceManager:
    """Starts, finds and stops the background services of one state folder."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.store = StateStore(state_dir)

    @property
    def services_file(self) -> Path:
        return self.state_dir / "services.json"

    @property
    def env_file(self) -> Path:
        return self.state_dir / "env.sh"

    def recorded(self) -> LocalServices | None:
        """The services the state folder records, if any; an unreadable record is removed."""
        if not self.services_file.is_file():
            return None
        try:
            return LocalServices.from_json(json.loads(self.services_file.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            self.services_file.unlink(missing_ok=True)
            return None

    def running(self) -> LocalServices | None:
        """The recorded services if both still run; a stale record is removed."""
        services = self.recorded()
        if services is None:
            return None
        if still_running(services.moto) and still_running(services.emulator):
            return services
        self._stop_processes(services)
        self._forget(services)
        return None

    def start(
        self,
        *,
        pace: Mapping[str, float] | None = None,
        moto_port: int = 0,
        emulator_port: int = 0,
        region: str = DEFAULT_REGION,
        account: str = DEFAULT_ACCOUNT,
    ) -> tuple[LocalServices, bool]:
        """The running services, or new ones; the flag says whether they were started now."""
        current = self.running()
        if current is not None:
            return current, False
        for port in (moto_port, emulator_port):
            if port and _port_in_use(port):
                raise ServicesError(
                    f"port {port} is already in use on {HOST}; choose another or pass 0 for a free one"
                )
        logs = self.store.logs_dir
        logs.mkdir(parents=True, exist_ok=True)
        base_environment = _service_environment(region, account)
        moto = self._start_moto(moto_port or free_port(), logs, base_environment)
        try:
            emulator = self._start_emulator(
                emulator_port,
                logs=logs,
                environment=base_environment,
                s3_url=moto.url,
                pace=pace or {},
                region=region,
                account=account,
            )
        except ServicesError:
            self._terminate(moto)
            raise
        services = LocalServices(
            session=uuid.uuid4().hex,
            region=region,
            account=account,
            moto=moto,
            emulator=emulator,
            pace=dict(pace or {}),
        )
        self._record(services)
        return services, True

    def _record(self, services: LocalServices) -> None:
        """services.json for the next command, env.sh for the user's shell."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.services_file.write_text(json.dumps(services.to_json(), indent=1), encoding="utf-8")
        self.env_file.write_text(env_script(services.endpoints), encoding="utf-8")

    def stop(self) -> LocalServices | None:
        """Stop the recorded services (if any) and forget the stacks that lived in them."""
        services = self.recorded()
        if services is None:
            return None
        self._stop_processes(services)
        self._forget(services)
        return services

    def forgotten_stacks(self, services: LocalServices) -> list[str]:
        return [state.stack_name for state in self.store.all() if state.session == services.session]

    def _forget(self, services: LocalServices) -> None:
        for stack_name in self.forgotten_stacks(services):
            self.store.delete(stack_name)
        self.services_file.unlink(missing_ok=True)
        self.env_file.unlink(missing_ok=True)

    def _stop_processes(self, services: LocalServices) -> None:
        for process in (services.emulator, services.moto):
            self._terminate(process)

    @staticmethod
    def _terminate(process: ServiceProcess) -> None:
        if not still_running(process):
            return
        os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while still_running(process) and time.monotonic() < deadline:
            time.sleep(0.1)
        if still_running(process):
            os.kill(process.pid, signal.SIGKILL)

    @staticmethod
    def _spawn(
        command: list[str], log: Path, stdout: Path | None, environment: Mapping[str, str]
    ) -> subprocess.Popen[bytes]:
        with log.open("a", encoding="utf-8") as log_stream:
            out_stream = stdout.open("w", encoding="utf-8") if stdout else log_stream
            try:
                process = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=out_stream,
                    stderr=log_stream,
                    env=dict(environment),
                    cwd=PROJECT_ROOT,  # where the packages are, so `python -m` finds them
                    start_new_session=True,  # Ctrl-C in the terminal that started it does not stop it
                )
            finally:
                if stdout:
                    out_stream.close()
        return process

    def _start_moto(self, port: int, logs: Path, environment: Mapping[str, str]) -> ServiceProcess:
        log = logs / "moto.log"
        child = self._spawn(
            [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)], log, None, environment
        )
        process = ServiceProcess("moto", child.pid, f"http://{HOST}:{port}", str(log), "moto.server")
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not answers(f"{process.url}/moto-api/"):
            if child.poll() is not None or time.monotonic() > deadline:
                _stop_child(child)
                raise ServicesError(
                    f"moto's server did not start on port {port} (exit code {child.poll()}):\n{_tail(log)}"
                )
            time.sleep(0.2)
        return process

    def _start_emulator(
        self,
        port: int,
        *,
        logs: Path,
        environment: Mapping[str, str],
        s3_url: str,
        pace: Mapping[str, float],
        region: str,
        account: str,
    ) -> ServiceProcess:
        log, url_file = logs / "emulator.log", logs / "emulator.url"
        command = [
            sys.executable,
            "-m",
            "personalize_tools.emulator",
            "--host",
            HOST,
            "--port",
            str(port),
            "--s3-endpoint-url",
            s3_url,
            "--iam-endpoint-url",  # IAM enforced on every call, as in AWS (docs/emulator.md)
            s3_url,
            "--region",
            region,
            "--account",
            account,
        ]
        for kind, seconds in pace.items():
            command += ["--duration", f"{kind}={seconds:g}"]
        child = self._spawn(command, log, url_file, environment)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            url = url_file.read_text(encoding="utf-8").strip() if url_file.exists() else ""
            if url and answers(f"{url}/_emulator/state"):
                return ServiceProcess("emulator", child.pid, url, str(log), "personalize_tools.emulator")
            if child.poll() is not None or time.monotonic() > deadline:
                _stop_child(child)
                raise ServicesError(
                    f"the Personalize emulator did not start (exit code {child.poll()}, "
                    f"address {url or 'not printed'}):\n{_tail(log)}"
                )
            time.sleep(0.2)


def env_script(endpoints: Endpoints) -> str:
    lines = [
        "# source this file: the AWS CLI and boto3 in this shell then talk to the local services",
        *(f"export {name}={value}" for name, value in endpoints.environment().items()),
    ]
    return "\n".join(lines) + "\n"
