"""The Lambda asset carries only what the handlers import, so a tool-side change never redeploys them.

The asset is what `Code.from_asset(HANDLER_ASSET, exclude=ASSET_EXCLUDES)` packages; its hash is CDK's
own fingerprint of that folder with those excludes (`FileSystem.fingerprint`, which `Code.from_asset`
uses for the asset's hash).
"""

from __future__ import annotations

import ast
import shutil
import sys
from pathlib import Path, PurePosixPath

from aws_cdk import FileSystem

from constructs_lib.import_flow import STEP_MODULE
from constructs_lib.personalize_provider import ASSET_EXCLUDES, HANDLER_ASSET

ENTRY_MODULE = "personalize.entry"  # the functions' handler: personalize.entry.on_event / is_complete
# Every handler module of the asset: the custom resources' entry and the import flow's steps.
ENTRY_MODULES = (ENTRY_MODULE, STEP_MODULE)
# What a handler may import besides the asset itself: the standard library and what the runtime provides.
RUNTIME_PACKAGES = frozenset({"boto3", "botocore"})
TOOL_SIDE = "personalize/domain_rules.py"
# The folder's own package marker: Lambda never imports it (the handler is personalize.entry), the
# repository does (lambda_handlers.personalize); a few bytes that change only with the layout.
PACKAGE_MARKER = "__init__.py"


def _excluded(relative: PurePosixPath) -> bool:
    return any(
        part.match(pattern)
        for pattern in ASSET_EXCLUDES
        for part in (relative, *relative.parents)
        if part.parts
    )


def asset_modules(root: Path = HANDLER_ASSET) -> set[str]:
    """The Python files the asset holds, as paths relative to its root."""
    return {
        str(relative)
        for path in root.rglob("*.py")
        if not _excluded(relative := PurePosixPath(path.relative_to(root).as_posix()))
    }


def _module_path(module: str) -> str:
    """The file of an asset module: a package's __init__.py, or the module's own file."""
    base = module.replace(".", "/")
    return f"{base}/__init__.py" if (HANDLER_ASSET / base).is_dir() else f"{base}.py"


def _imports(module: str) -> tuple[set[str], set[str]]:
    """(asset modules, outside top-level packages) that a module imports."""
    path = _module_path(module)
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    inside: set[str] = set()
    outside: set[str] = set()
    for node in ast.walk(ast.parse((HANDLER_ASSET / path).read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            target = f"{anchor}.{node.module}" if node.module else anchor
            inside.add(target)
            for alias in node.names:  # `from . import domain` imports a module
                candidate = f"{target}.{alias.name}"
                if (HANDLER_ASSET / _module_path(candidate)).exists():
                    inside.add(candidate)
        elif isinstance(node, ast.ImportFrom) and node.module:
            outside.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            outside |= {alias.name.split(".")[0] for alias in node.names}
    return inside, outside


def imported_by_entry() -> tuple[set[str], set[str]]:
    """Every asset file the entry modules reach (with their packages' __init__), and what lies outside."""
    reached: set[str] = set()
    outside: set[str] = set()
    pending = list(ENTRY_MODULES)
    while pending:
        module = pending.pop()
        path = _module_path(module)
        if path in reached:
            continue
        reached.add(path)
        parts = module.split(".")
        pending += [".".join(parts[:depth]) for depth in range(1, len(parts))]  # parent packages
        inside, others = _imports(module)
        pending += inside
        outside |= others
    return reached, outside


def test_the_asset_holds_exactly_the_modules_the_handlers_import() -> None:
    reached, _ = imported_by_entry()
    assert asset_modules() == reached | {PACKAGE_MARKER}, (
        "leave out (ASSET_EXCLUDES) what no handler imports, and only that"
    )


def test_the_handlers_import_only_the_standard_library_and_the_runtime() -> None:
    _, outside = imported_by_entry()
    foreign = {name for name in outside if name not in sys.stdlib_module_names} - RUNTIME_PACKAGES
    assert foreign == set()


def test_the_tool_side_domain_is_left_out_and_imports_from_the_asset() -> None:
    assert TOOL_SIDE not in asset_modules()
    source = (HANDLER_ASSET / TOOL_SIDE).read_text()
    assert "from lambda_handlers.personalize.contract import" in source  # tools depend on the asset ...
    reached, _ = imported_by_entry()
    assert TOOL_SIDE not in reached  # ... never the reverse


def _fingerprint(root: Path) -> str:
    return FileSystem.fingerprint(str(root), exclude=ASSET_EXCLUDES)


def test_a_tool_side_change_keeps_the_asset_hash_and_a_handler_change_does_not(tmp_path: Path) -> None:
    copy = tmp_path / "lambda_handlers"
    shutil.copytree(HANDLER_ASSET, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    before = _fingerprint(copy)
    tool_side = copy / TOOL_SIDE
    tool_side.write_text(tool_side.read_text().replace("MIN_TRAINING_USERS = 25", "MIN_TRAINING_USERS = 26"))
    assert "MIN_TRAINING_USERS = 26" in tool_side.read_text()
    assert _fingerprint(copy) == before
    handler_side = copy / "personalize" / "domain.py"
    handler_side.write_text(handler_side.read_text() + "\n# changed\n")
    assert _fingerprint(copy) != before
