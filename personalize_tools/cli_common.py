"""What every console script shares: its name in usage lines and `--version`, from pyproject.toml once."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # config imports this module on every synth: argparse and tomllib load only when used
    import argparse

DISTRIBUTION = "personalize-domain-cdk"
# The folder that holds the packages: a checkout's root, or site-packages for an installed wheel.
PROJECT_ROOT = Path(__file__).resolve().parents[1]
# A checkout has the app and its environments (config/*.yaml); an installed wheel carries the packages only.
IN_CHECKOUT = (PROJECT_ROOT / "app.py").is_file()
PYPROJECT = PROJECT_ROOT / "pyproject.toml"


def version() -> str:
    """The checkout's pyproject.toml version, or the installed distribution's."""
    if IN_CHECKOUT:
        import tomllib  # noqa: PLC0415 - see TYPE_CHECKING above

        return str(tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["version"])
    from importlib import metadata  # noqa: PLC0415 - only an installed wheel needs it (15 ms of every start)

    return metadata.version(DISTRIBUTION)


def program(script: str, module: str) -> str:
    """`validate-data` when started as the console script, `python -m MODULE` otherwise."""
    return script if Path(sys.argv[0]).name == script else f"python -m {module}"


def add_version(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()} ({DISTRIBUTION})")
    return parser
