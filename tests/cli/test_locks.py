"""The lock files are complete, fully pinned and agree with their inputs, checked offline.

`make lock` compiles them with uv from pyproject.toml (the app's dependencies and its extras) and the
`.in` files; these tests fail when someone edits an input without recompiling, pins by hand, or lets
two locks disagree on a version. The dependency graph comes from the installed packages' metadata
(`make install` installs requirements-dev.txt, the superset), so no index is asked.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
SELF = canonicalize_name(PYPROJECT["name"])
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;#]+)$")
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


def _pins(lock: str) -> dict[str, str]:
    """Every requirement line of LOCK, each of which must be NAME==VERSION (comments aside)."""
    pins: dict[str, str] = {}
    for line in (PROJECT_ROOT / lock).read_text().splitlines():
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        match = PIN.match(text)
        assert match, f"{lock}: {text!r} is not pinned as NAME==VERSION"
        pins[canonicalize_name(match["name"])] = match["version"]
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
    dev = _pins("requirements-dev.txt")
    assert {
        name: (version, dev.get(name)) for name, version in _pins(lock).items() if dev.get(name) != version
    } == {}


def test_synthesis_locks_neither_the_validator_nor_the_tools() -> None:
    """requirements.txt is what `cdk synth` needs; the readers and local tools are extras."""
    synth = _pins("requirements.txt")
    assert {"aws-cdk-lib", "constructs", "cdk-nag", "pydantic", "pyyaml"} <= set(synth)
    assert not {"pyarrow", "polars", "numpy", "boto3", "moto", "pandas"} & set(synth)
