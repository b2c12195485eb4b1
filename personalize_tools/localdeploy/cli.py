"""`python -m personalize_tools.localdeploy`: deploy, destroy, status, and the local services.

    deploy   [--env dev] [--stack NAME] [--cdk-out DIR] [--no-synth] [--state-dir DIR] [--query-interval S]
             [--parameter K=V]
    destroy  (--env dev | --stack NAME) [--state-dir DIR]
    status   [--env dev | --stack NAME] [--state-dir DIR]
    services start|stop|status|env [--duration KIND=SECONDS] [--moto-port N] [--emulator-port N]
    run-events [--until-idle SECONDS] [--time-scale X] [--state-dir DIR]

With --env, deploy synthesizes this project's config/ENV.yaml with app.py (a checkout only). Without it,
in a folder with a cdk.json of its own (always, once installed from the wheel: it has no app.py or
config/), deploy synthesizes that folder's CDK app as `cdk synth` does (cdkapp.py) and deploys its one
stack or --stack NAME; elsewhere in a checkout, --env dev.

Exit status: 0 done, 1 the deploy or destroy failed (and was rolled back where it could be), 2 the
request could not be carried out (bad config, no cdk.out, services not running, ...).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from config import ConfigError, EnvironmentConfig, load_environment
from personalize_tools.cli_common import IN_CHECKOUT, PROJECT_ROOT, add_version, program
from personalize_tools.emulator.lifecycle import parse_duration
from personalize_tools.localdeploy.assembly import CloudAssembly, StackArtifact
from personalize_tools.localdeploy.cdkapp import PROJECT_CONFIG, project_settings, synthesize_folder
from personalize_tools.localdeploy.engine import DeployOptions, LocalDeployer
from personalize_tools.localdeploy.errors import (
    AssemblyError,
    DeployFailedError,
    LocalDeployError,
    ServicesError,
)
from personalize_tools.localdeploy.events import EventLog
from personalize_tools.localdeploy.report import render
from personalize_tools.localdeploy.services import DEMO_PACE, LocalServices, ServiceManager, env_script
from personalize_tools.localdeploy.state import StackState
from personalize_tools.localdeploy.stepfunctions import TIME_SCALE_VARIABLE

# Relative to the folder the command runs in, like the CDK CLI's cdk.out; made absolute when parsed,
# because the handler workers run in the project's folder.
DEFAULT_CDK_OUT = Path("cdk.out")
DEFAULT_STATE_DIR = Path(".personalize-local")
DEFAULT_ENVIRONMENT = "dev"


def default_environment(folder: Path) -> str | None:
    """What deploy and destroy mean without --env or --stack: None for the folder's own CDK app."""
    if (folder / PROJECT_CONFIG).is_file() and folder.resolve() != PROJECT_ROOT:
        return None
    return DEFAULT_ENVIRONMENT if IN_CHECKOUT else None


def absolute_path(text: str) -> Path:
    """A path argument resolved against the current folder now, not wherever a worker later runs."""
    return Path(text).expanduser().resolve()


ID_COLUMN_MAX = 48


def _prepare_synthesis() -> None:
    """The CDK's jsii runtime needs Node.js (the project's pinned one first) and the app on sys.path."""
    node_bin = PROJECT_ROOT / "node_modules" / ".bin"
    if node_bin.is_dir() and str(node_bin) not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = f"{node_bin}{os.pathsep}{os.environ.get('PATH', '')}"
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    if str(PROJECT_ROOT) not in sys.path:
        sys.path.insert(0, str(PROJECT_ROOT))


def synthesize(environment: str, outdir: Path, out: TextIO | None = None) -> str:
    """Synthesize config/ENV.yaml in-process, as `make synth` does; returns the stack's name."""
    stack_name = load_environment(environment).stack_name  # outside a checkout: a ConfigError saying so
    if out is not None:
        out.write(f"Synthesizing config/{environment}.yaml into {outdir} ...\n")
        out.flush()
    _prepare_synthesis()
    import app  # noqa: PLC0415 - the CDK app loads the CDK (seconds) only when synthesizing

    app.create_app({"env": environment}, outdir=str(outdir)).synth()
    return stack_name


def synthesize_config(config: EnvironmentConfig, outdir: Path) -> StackArtifact:
    """Synthesize a config that lives outside config/ (tests, the benchmark) as app.create_app would."""
    _prepare_synthesis()
    import aws_cdk as cdk  # noqa: PLC0415 - loading the CDK takes seconds; only synthesis needs it

    import app  # noqa: PLC0415

    flags = json.loads((PROJECT_ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]
    cdk_app = cdk.App(context=flags, outdir=str(outdir))
    app.add_environment(cdk_app, config)
    cdk_app.synth()
    return CloudAssembly(outdir).stack(config.stack_name)


def event_log(artifact_ids: Sequence[str], stream: TextIO) -> EventLog:
    width = min(ID_COLUMN_MAX, max((len(logical_id) for logical_id in artifact_ids), default=20))
    return EventLog(stream, id_width=width)


def start_services(
    manager: ServiceManager, out: TextIO, pace: dict[str, float] | None = None
) -> LocalServices:
    services, started = manager.start(pace=DEMO_PACE if pace is None else pace)
    out.write(
        ("Started" if started else "Using the running") + " local services:\n" + services.describe() + "\n\n"
    )
    return services


def _stack_to_deploy(
    environment: str | None, cdk_out: Path | None, *, synth: bool, stack_name: str | None, out: TextIO
) -> tuple[StackArtifact, Path]:
    """The stack artifact a deploy works from and its assembly folder: synthesized now, or read as it is.

    With an environment, this project's config/ENV.yaml; without one, the current folder's CDK app, whose
    assembly goes to cdk.json's `output` unless --cdk-out says otherwise (as with `cdk synth --output`).
    """
    if environment is None:
        settings = project_settings(Path.cwd())
        if cdk_out is None and not synth:
            try:
                app: str | Path | None = settings.app  # an assembly folder as app: read as it is, as on synth
            except AssemblyError:  # no app command: --no-synth reads the output folder all the same
                app = None
            cdk_out = app if isinstance(app, Path) else None
        if cdk_out is None:
            cdk_out = settings.output
        if synth:
            cdk_out = synthesize_folder(Path.cwd(), cdk_out, out)
        assembly = CloudAssembly(cdk_out)
        return (assembly.only_stack() if stack_name is None else assembly.stack(stack_name)), cdk_out
    cdk_out = DEFAULT_CDK_OUT.resolve() if cdk_out is None else cdk_out
    if synth:
        stack_name = synthesize(environment, cdk_out, out)
    elif stack_name is None:
        stack_name = load_environment(environment).stack_name
    return CloudAssembly(cdk_out).stack(stack_name), cdk_out


def deploy_environment(
    environment: str | None,
    *,
    cdk_out: Path | None = None,
    state_dir: Path = DEFAULT_STATE_DIR,
    synth: bool = True,
    stack_name: str | None = None,
    options: DeployOptions | None = None,
    out: TextIO = sys.stdout,
) -> tuple[StackState, LocalServices]:
    """Synthesize (unless told not to), start the services if needed, deploy and print the stack's table."""
    state_dir = state_dir.resolve()
    artifact, cdk_out = _stack_to_deploy(
        environment,
        None if cdk_out is None else cdk_out.resolve(),
        synth=synth,
        stack_name=stack_name,
        out=out,
    )
    stack_name = artifact.stack_name
    manager = ServiceManager(state_dir)
    services = start_services(manager, out)
    deployer = LocalDeployer(
        services.endpoints,
        store=manager.store,
        session=services.session,
        events=event_log(list(artifact.template.get("Resources", {})), out),
        options=options,
    )
    try:
        state = deployer.deploy(artifact, environment=environment, cdk_out=cdk_out)
    except DeployFailedError:
        out.write(f"\nHandler logs: {manager.store.logs_dir / (stack_name + '.handlers.log')}\n")
        raise
    out.write("\n" + render(state, services.endpoints) + "\n")
    return state, services


def _deploy(arguments: argparse.Namespace, out: TextIO) -> int:
    options = DeployOptions(
        query_interval=arguments.query_interval,
        parameters=dict(arguments.parameter),
        watch_service_status=not arguments.no_service_status,
    )
    deploy_environment(
        arguments.env or default_environment(Path.cwd()),
        cdk_out=arguments.cdk_out,
        state_dir=arguments.state_dir,
        synth=not arguments.no_synth,
        stack_name=arguments.stack,
        options=options,
        out=out,
    )
    return 0


def _find_state(manager: ServiceManager, arguments: argparse.Namespace) -> StackState | None:
    return manager.store.find(stack_name=arguments.stack, environment=arguments.env)


def _target(arguments: argparse.Namespace) -> str:
    if arguments.stack:
        return str(arguments.stack)
    return f"environment {arguments.env}" if arguments.env else "your CDK app (no --stack given)"


def _destroy(arguments: argparse.Namespace, out: TextIO) -> int:
    manager = ServiceManager(arguments.state_dir)
    state = _find_state(manager, arguments)
    if state is None:
        out.write(f"No local stack for {_target(arguments)}; nothing to destroy.\n")
        return 0
    services = manager.running()
    if services is None or services.session != state.session:
        manager.store.delete(state.stack_name)
        out.write(
            f"{state.stack_name} lived in local services that are no longer running; its resources went with "
            "them, so its record is removed.\n"
        )
        return 0
    deployer = LocalDeployer(
        services.endpoints,
        store=manager.store,
        session=services.session,
        events=event_log(list(state.resources), out),
    )
    deployer.destroy(state.stack_name)
    out.write(f"Destroyed {state.stack_name}. The services keep running: `services stop` stops them.\n")
    return 0


def _status(arguments: argparse.Namespace, out: TextIO) -> int:
    manager = ServiceManager(arguments.state_dir)
    services = manager.running()
    out.write(
        ("Local services:\n" + services.describe() if services else "Local services: not running") + "\n"
    )
    if arguments.stack is None and arguments.env is None:
        states = manager.store.all()
    else:
        found = _find_state(manager, arguments)
        states = [found] if found else []
    if not states:
        out.write("No local stacks.\n")
    for state in states:
        out.write("\n")
        if services is None or services.session != state.session:
            out.write(f"Stack {state.stack_name}: recorded, but the services it lived in are gone\n")
            continue
        out.write(render(state, services.endpoints) + "\n")
    return 0


def _services(arguments: argparse.Namespace, out: TextIO) -> int:
    manager = ServiceManager(arguments.state_dir)
    if arguments.action == "start":
        pace = {**DEMO_PACE, **dict(arguments.duration)}
        services, started = manager.start(
            pace=pace, moto_port=arguments.moto_port, emulator_port=arguments.emulator_port
        )
        out.write(("Started" if started else "Already running") + ":\n" + services.describe() + "\n")
        out.write(f"`source {manager.env_file}` points the AWS CLI and boto3 at them.\n")
    elif arguments.action == "stop":
        running = manager.running()
        forgotten = manager.forgotten_stacks(running) if running else []
        stopped = manager.stop()
        if stopped is None:
            out.write("No local services are running.\n")
        else:
            out.write(
                f"Stopped moto (pid {stopped.moto.pid}) and the emulator (pid {stopped.emulator.pid}).\n"
            )
            if forgotten:
                out.write(f"These stacks lived in them and are gone: {', '.join(forgotten)}\n")
    elif arguments.action == "status":
        running = manager.running()
        out.write(("Running:\n" + running.describe() if running else "Not running") + "\n")
    else:
        running = manager.running()
        if running is None:
            raise ServicesError("no local services are running; start them with `services start`")
        out.write(env_script(running.endpoints))
    return 0


def _run_events(arguments: argparse.Namespace, out: TextIO) -> int:
    """Deliver S3 events to the deployed rules and run the executions (flowrunner.py) until stopped."""
    from personalize_tools.localdeploy.flowrunner import FlowRunner  # noqa: PLC0415 - this command only

    manager = ServiceManager(arguments.state_dir)
    services = manager.running()
    if services is None:
        raise ServicesError("no local services are running; deploy first (`make demo` or `deploy`)")
    runner = FlowRunner(services.endpoints, manager.store)
    out.write(
        f"Delivering S3 events to the local stacks' rules (time scale {runner.scale:g}); Ctrl-C stops.\n"
    )
    out.flush()
    try:
        if arguments.until_idle is not None:
            runner.run_until_idle(arguments.until_idle)
        else:
            runner.serve()
    except KeyboardInterrupt:
        out.write("Stopping: executions in flight are abandoned.\n")
    finally:
        runner.close()
    for execution in runner.flows.executions():
        out.write(f"{execution.get('name')}  {execution.get('status')}  {execution.get('error') or ''}\n")
    return 0


def _time_scale(text: str) -> str:
    try:
        scale = float(text)
    except ValueError:
        scale = 0.0
    if not scale > 0:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected a number > 0 (1 is real time, 0.001 a thousand times faster)"
        )
    os.environ[TIME_SCALE_VARIABLE] = text  # read by wait conditions and the flow runner
    return text


def _parameter(text: str) -> tuple[str, str]:
    name, separator, value = text.partition("=")
    if not separator or not name:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=VALUE")
    return name, value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=program("personalize-local", "personalize_tools.localdeploy"),
        description="Deploy the CDK app to a local AWS: moto's server plus the Personalize emulator.",
    )
    add_version(parser)
    state_dir = argparse.ArgumentParser(add_help=False)
    state_dir.add_argument(
        "--state-dir",
        type=absolute_path,
        default=str(DEFAULT_STATE_DIR),
        help="state folder (default .personalize-local in the current folder)",
    )
    target = argparse.ArgumentParser(add_help=False)
    target.add_argument("--env", help="environment name (config/ENV.yaml)")
    target.add_argument("--stack", help="stack name, instead of --env")
    commands = parser.add_subparsers(dest="command", required=True)

    _add_deploy_command(commands, state_dir)
    commands.add_parser("destroy", parents=[state_dir, target], help="delete a deployed stack")
    commands.add_parser("status", parents=[state_dir, target], help="show local stacks, live")
    _add_services_command(commands, state_dir)
    return parser


def _add_deploy_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], state_dir: argparse.ArgumentParser
) -> None:
    deploy = commands.add_parser("deploy", parents=[state_dir], help="synthesize and deploy an environment")
    deploy.add_argument(
        "--env",
        help="environment name (config/ENV.yaml of a checkout); default: the current folder's CDK app "
        "if it has a cdk.json of its own, else dev",
    )
    deploy.add_argument("--stack", help="stack to deploy from cdk.out (default: the environment's)")
    deploy.add_argument(
        "--cdk-out",
        type=absolute_path,
        help="cloud assembly folder (default cdk.out in the current folder; for your own app, its "
        "cdk.json's output)",
    )
    deploy.add_argument("--no-synth", action="store_true", help="deploy cdk.out as it is")
    deploy.add_argument(
        "--query-interval",
        type=float,
        default=1.0,
        help="seconds between is_complete polls locally (default 1; never more than the provider's)",
    )
    deploy.add_argument("--parameter", action="append", default=[], type=_parameter, metavar="NAME=VALUE")
    deploy.add_argument(
        "--no-service-status", action="store_true", help="do not Describe resources to show their status"
    )
    time_scale_help = (
        f"real seconds per second of Wait states and wait conditions (default ${TIME_SCALE_VARIABLE} or 1)"
    )
    deploy.add_argument("--time-scale", type=_time_scale, help=time_scale_help)
    run_events = commands.add_parser(
        "run-events",
        parents=[state_dir],
        help="deliver S3 events to the stacks' rules and run their state machines",
    )
    run_events.add_argument("--time-scale", type=_time_scale, help=time_scale_help)
    run_events.add_argument(
        "--until-idle", type=float, metavar="SECONDS", help="stop once nothing runs (fail after SECONDS)"
    )


def _add_services_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], state_dir: argparse.ArgumentParser
) -> None:
    services = commands.add_parser("services", parents=[state_dir], help="the background services")
    services.add_argument("action", choices=["start", "stop", "status", "env"])
    services.add_argument(
        "--duration",
        action="append",
        default=[],
        type=parse_duration,
        metavar="KIND=SECONDS",
        help=f"emulator pace override (defaults: {', '.join(f'{k}={v:g}' for k, v in DEMO_PACE.items())})",
    )
    services.add_argument("--moto-port", type=int, default=0, help="default: a free port")
    services.add_argument("--emulator-port", type=int, default=0, help="default: a free port")


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    arguments = build_parser().parse_args(argv)
    try:
        if arguments.command == "deploy":
            return _deploy(arguments, out)
        if arguments.command == "destroy":
            if arguments.env is None and arguments.stack is None:
                arguments.env = default_environment(Path.cwd())
            return _destroy(arguments, out)
        if arguments.command == "status":
            return _status(arguments, out)
        if arguments.command == "run-events":
            return _run_events(arguments, out)
        return _services(arguments, out)
    except DeployFailedError as error:
        out.write(f"\n{arguments.command} failed ({error.final_status}): {error}\n")
        return 1
    except (LocalDeployError, ConfigError) as error:
        out.write(f"error: {error}\n")
        return 2
