"""The lock files are complete, fully pinned with hashes and agree with their inputs, checked offline.

`make lock` compiles them with uv from pyproject.toml (the app's dependencies and its extras) and the
`.in` files, universally (uv's --universal: one file for every platform and Python from 3.11, with a
marker on each pin that applies only to some) and with every artifact's hash; installs use
--require-hashes. These tests fail when someone edits an input without recompiling, pins by hand, drops
a hash, or lets two locks disagree on a version. The dependency graph comes from the installed
packages' metadata (`make install` installs requirements-dev.txt, the superset), so no index is asked:
the closure is checked for the pins that apply to this machine; a pin behind a marker for another
platform or Python (pywin32 on Windows) is checked for its hashes and its agreement with the dev lock only.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker, default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests import PROJECT_ROOT

PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
SELF = canonicalize_name(PYPROJECT["name"])
PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;#]+)(?: ; (?P<marker>[^\\]+?))?"
    r"(?P<hashes>(?: --hash=sha256:[0-9a-f]{64})+)$"
)
# Each lock file and the top-level requirements it is compiled from.
RUNTIME_IN = ("stacks/pipeline_runtime/requirements.in", "lambda_handlers/requirements.in")


def _extra(name: str) -> list[str]:
    """An extra of the project, its self-references (`personalize-domain-cdk[validate]`) expanded."""
    found: list[str] = []
    for line in PYPROJECT["optional-dependencies"][name]:
        requirement = Requirement(line)
        if canonicalize_name(requirement.name) == SELF:
            for inner in sorted(requirement.extras):
                found += _extra(inner)
        else:
            found.append(line)
    return found


def _in_file(path: str) -> list[str]:
    lines = (PROJECT_ROOT / path).read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


INPUTS = {
    "requirements.txt": list(PYPROJECT["dependencies"]),
    "requirements-dev.txt": [*PYPROJECT["dependencies"], *_extra("dev")],
    **{str(Path(path).with_suffix(".txt")): _in_file(path) for path in RUNTIME_IN},
}


def _entries(lock: str) -> list[tuple[str, str, Marker | None]]:
    """Every requirement of LOCK as (name, version, marker): each must be NAME==VERSION [; MARKER] with
    at least one sha256 hash (continuation lines joined, comments aside)."""
    text = re.sub(r"\s*\\\n\s*", " ", (PROJECT_ROOT / lock).read_text())
    entries = []
    for line in text.splitlines():
        requirement = line.strip()
        if not requirement or requirement.startswith("#"):
            continue
        match = PIN.match(requirement)
        assert match, f"{lock}: {requirement!r} is not NAME==VERSION [; MARKER] with --hash=sha256:..."
        marker = Marker(match["marker"]) if match["marker"] else None
        entries.append((canonicalize_name(match["name"]), match["version"], marker))
    return entries


def _pins(lock: str) -> dict[str, str]:
    """The pins of LOCK that apply here (their marker holds on this machine's Python and platform)."""
    pins: dict[str, str] = {}
    for name, version, marker in _entries(lock):
        if marker is None or marker.evaluate():
            assert name not in pins, f"{lock} pins {name} twice for this machine"
            pins[name] = version
    return pins


def _closure(lock: str) -> dict[str, str]:
    """What LOCK's inputs need, transitively, per the installed metadata: name -> the version it must be.

    Fails when a needed package is not pinned, or pinned at a version its dependant does not allow.
    """
    pins = _pins(lock)
    needed: dict[str, str] = {}
    queue = [(Requirement(line), "its inputs") for line in INPUTS[lock]]
    seen: set[tuple[str, frozenset[str]]] = set()
    while queue:
        requirement, wanted_by = queue.pop()
        name = canonicalize_name(requirement.name)
        key = (name, frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        assert name in pins, f"{lock} does not pin {name} (needed by {wanted_by})"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{lock} pins {name}=={pins[name]}; {wanted_by} needs {requirement}"
        )
        needed[name] = pins[name]
        installed = metadata.distribution(name)
        assert installed.version == pins[name], f"installed {name} {installed.version}; run make install"
        for line in installed.requires or []:
            inner = Requirement(line)
            if inner.marker is None or any(
                inner.marker.evaluate({**default_environment(), "extra": extra})
                for extra in (requirement.extras or {""})
            ):
                queue.append((inner, f"{name} {pins[name]}"))
    return needed


@pytest.mark.parametrize("lock", sorted(INPUTS))
def test_every_input_is_pinned_at_an_allowed_version_with_all_it_needs(lock: str) -> None:
    _closure(lock)


@pytest.mark.parametrize("lock", sorted(INPUTS))
def test_a_lock_pins_nothing_its_inputs_do_not_need(lock: str) -> None:
    """A package left behind by an input that was removed: the lock was edited, not recompiled."""
    assert sorted(set(_pins(lock)) - set(_closure(lock))) == []


@pytest.mark.parametrize("lock", sorted(set(INPUTS) - {"requirements-dev.txt"}))
def test_each_lock_agrees_with_the_dev_lock_the_tests_run(lock: str) -> None:
    """Every pin, for every platform and Python, is one the dev lock has too."""
    dev = {(name, version) for name, version, _ in _entries("requirements-dev.txt")}
    pins = (f"{name}=={version}" for name, version, _ in _entries(lock) if (name, version) not in dev)
    assert sorted(pins) == []


def test_the_locks_are_universal_and_every_pin_has_its_hashes() -> None:
    """One file serves every platform: what only Windows needs is pinned behind a marker (a lock compiled
    for Linux alone leaves it out), and no lock has an unhashed line (_entries refuses one)."""
    for lock in INPUTS:
        assert _entries(lock), lock
    windows_only = {
        name for name, _, marker in _entries("requirements-dev.txt") if marker and "win32" in str(marker)
    }
    assert "pywin32" in windows_only  # docker needs it on Windows (through moto[server])


def test_synthesis_locks_neither_the_validator_nor_the_tools() -> None:
    """requirements.txt is what `cdk synth` needs; the readers and local tools are extras."""
    synth = _pins("requirements.txt")
    assert {"aws-cdk-lib", "constructs", "cdk-nag", "pydantic", "pyyaml"} <= set(synth)
    assert not {"pyarrow", "polars", "numpy", "boto3", "moto", "pandas"} & set(synth)
