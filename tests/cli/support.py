"""Running the project's pinned CDK CLI the way a user does, with no AWS credentials to reach for."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests import PROJECT_ROOT

NODE_BIN = PROJECT_ROOT / "node_modules" / ".bin"
CLI_TIMEOUT_SECONDS = 300


def offline_environment() -> dict[str, str]:
    """The caller's environment without AWS credentials, profiles or the instance metadata service."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "CDK_"))}
    environment.update(
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        CDK_DISABLE_VERSION_CHECK="1",
        JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION="1",
        PATH=f"{NODE_BIN}{os.pathsep}{environment.get('PATH', '')}",
    )
    return environment


def run_cdk(*arguments: str, outdir: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`npx cdk ARGS` from the project folder, as the README has users run it; `-o outdir` if given."""
    command = [str(NODE_BIN / "cdk"), *arguments, "--no-notices"]
    if outdir is not None:
        command += ["--output", str(outdir)]
    return subprocess.run(
        command,
        cwd=PROJECT_ROOT,
        env=offline_environment(),
        capture_output=True,
        text=True,
        check=False,
        timeout=CLI_TIMEOUT_SECONDS,
    )
