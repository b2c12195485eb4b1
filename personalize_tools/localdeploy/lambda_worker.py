"""A worker process that plays Lambda for the custom-resource handlers (`python -m` this module).

The deployer starts it with the function's environment (the local endpoints, dummy credentials, the
function's own variables), so module-level boto3 clients in the handler reach the local services exactly
as they would reach AWS, and the deployer's own environment is never touched. It reads one invocation
per line on stdin and answers one JSON line on stdout; handler output and logs go to a file, as they
would go to CloudWatch Logs. With a code folder, only that folder and the installed packages are
importable, as in Lambda, so a file missing from the asset fails here as it would in AWS.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import signal
import sys
import time
import traceback
import uuid
from pathlib import Path
from typing import Any, TextIO

LOG_FORMAT = "[%(levelname)s]\t%(asctime)s\t%(process)d\t%(name)s\t%(message)s"


class LambdaContext:
    """The attributes of Lambda's context object that handlers commonly read."""

    def __init__(self, function_arn: str, timeout_seconds: float) -> None:
        self.function_name = function_arn.rpartition(":")[2]
        self.function_version = "$LATEST"
        self.invoked_function_arn = function_arn
        self.memory_limit_in_mb = "128"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = f"local/{os.getpid()}"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _isolate(code_dir: str, project_root: Path) -> None:
    """Only the function's code and installed packages stay importable."""

    def outside(entry: str) -> bool:
        try:
            return Path(entry or ".").resolve() != project_root
        except OSError:
            return True

    sys.path[:] = [code_dir, *(entry for entry in sys.path if outside(entry))]


def _log_to(path: str) -> TextIO:
    log_file = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - open for the worker's life
    handler = logging.StreamHandler(log_file)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return log_file


def invoke(request: dict[str, Any]) -> dict[str, Any]:
    """Call `module.function(event, context)`; the answer is shaped like Lambda's invoke payload."""
    module_name, _, function = str(request["handler"]).rpartition(".")
    context = LambdaContext(request["function_arn"], float(request["timeout_seconds"]))
    try:
        entry = getattr(importlib.import_module(module_name), function)
        result = entry(request["event"], context)
        json.dumps(result)  # Lambda must be able to marshal the response
        return {"result": result}
    except Exception as error:  # every handler failure is reported, as Lambda reports it
        logging.getLogger(__name__).error("%s failed:\n%s", request["handler"], traceback.format_exc())
        return {"errorType": type(error).__name__, "errorMessage": str(error)}


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the deployer's to handle
    code_dir, project_root, log_path = sys.argv[1], sys.argv[2], sys.argv[3]
    if code_dir:
        _isolate(code_dir, Path(project_root).resolve())
    answers = sys.stdout
    sys.stdout = sys.stderr = _log_to(log_path)
    for line in sys.stdin:
        answers.write(json.dumps(invoke(json.loads(line))) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()
