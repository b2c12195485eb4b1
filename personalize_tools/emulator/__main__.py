"""Run the emulator in the foreground: `python -m personalize_tools.emulator --port 8765`.

The first line on stdout is the endpoint URL (for scripts); the rest goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from personalize_tools.cli_common import add_version, program
from personalize_tools.emulator.errors import EmulatorConfigError
from personalize_tools.emulator.faults import Faults
from personalize_tools.emulator.lifecycle import Pace, parse_duration
from personalize_tools.emulator.server import EmulatorServer
from personalize_tools.emulator.signing import service_regions

MAX_PORT = 65535


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=program("personalize-emulator", "personalize_tools.emulator"),
        description="A local Amazon Personalize endpoint (JSON 1.1 over HTTP) for boto3 and the AWS CLI.",
    )
    add_version(parser)
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; others warn on stderr)"
    )
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name clients may use besides localhost and IP addresses (repeatable)",
    )
    parser.add_argument("--port", type=_port, default=0, help="port to bind; 0 picks a free one (default 0)")
    parser.add_argument(
        "--pace",
        default="fast",
        choices=["instant", "step", "fast", "realistic"],
        help="status timing preset (default fast); step: each Describe moves a resource one status",
    )
    parser.add_argument(
        "--duration",
        action="append",
        default=[],
        type=parse_duration,
        metavar="KIND=SECONDS",
        help=f"override one pace duration; KIND is one of {', '.join(Pace().durations())} (repeatable)",
    )
    parser.add_argument("--state-file", help="JSON file to load on start and rewrite on every change")
    parser.add_argument(
        "--s3-endpoint-url", help="S3 endpoint for imports (default: AWS_ENDPOINT_URL_S3 or AWS)"
    )
    parser.add_argument(
        "--iam-endpoint-url",
        help="moto's server (STS, IAM, S3): authorize every call like AWS (default: no IAM enforcement)",
    )
    parser.add_argument(
        "--region",
        default="us-east-1",
        choices=sorted(service_regions()),
        metavar="REGION",
        help="region of unsigned requests, one where Personalize is offered; a signed request's region "
        "is its SigV4 credential scope's",
    )
    parser.add_argument("--account", default="123456789012")
    faults = parser.add_argument_group("fault injection")
    faults.add_argument(
        "--throttle-rate", type=float, default=0.0, help="fraction answered ThrottlingException"
    )
    faults.add_argument("--server-error-rate", type=float, default=0.0, help="fraction answered HTTP 500/503")
    faults.add_argument("--fail-name-pattern", help="regex; resources whose name matches end CREATE FAILED")
    faults.add_argument(
        "--fail-operation",
        action="append",
        default=[],
        metavar="OPERATION",
        help="a Personalize operation whose next request fails with InvalidInputException (repeatable)",
    )
    faults.add_argument("--latency-seconds", type=float, default=0.0, help="delay added to every request")
    faults.add_argument("--seed", type=int, help="random seed, for repeatable fault sequences")
    parser.add_argument("--log-requests", action="store_true", help="log every HTTP request to stderr")
    return parser


def _port(text: str) -> int:
    """A TCP port number, 0 to 65535; anything else is a usage error, not bind()'s OverflowError."""
    if not (text.isascii() and text.isdigit() and int(text) <= MAX_PORT):
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: use a whole number from 0 to {MAX_PORT}")
    return int(text)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        server = EmulatorServer(
            args.host,
            args.port,
            pace=Pace.preset(args.pace).with_durations(dict(args.duration)),
            faults=Faults(
                throttle_rate=args.throttle_rate,
                server_error_rate=args.server_error_rate,
                fail_name_pattern=args.fail_name_pattern,
                latency_seconds=args.latency_seconds,
                seed=args.seed,
                fail_operations=tuple(args.fail_operation),
            ),
            state_file=args.state_file,
            s3_endpoint_url=args.s3_endpoint_url,
            region=args.region,
            account=args.account,
            log_requests=args.log_requests,
            allowed_hosts=args.allow_host,
            iam_endpoint_url=args.iam_endpoint_url,
        )
    except EmulatorConfigError as error:
        parser.error(str(error))
    except OSError as error:
        print(f"cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    print(server.url, flush=True)
    print(
        f"Personalize emulator on {server.url} (pace {args.pace}, region {args.region}"
        f"{', state ' + args.state_file if args.state_file else ''}). Point clients at it with\n"
        f"  export AWS_ENDPOINT_URL_PERSONALIZE={server.url}\n"
        f"or aws personalize ... --endpoint-url {server.url}.\n"
        f"Admin: {server.url}/_emulator/state. Ctrl-C stops.",
        file=sys.stderr,
        flush=True,
    )
    signal.signal(signal.SIGTERM, _terminate)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
