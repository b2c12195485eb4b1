"""Facts live once: a fact has one name in one module, and the tests find the checkout in one place.

- No module binds a fact of `lambda_handlers.personalize` (domain, domain_rules, contract, kinds,
  authorization, ...) to a module-level name of its own (`EPOCH_2000 = domain.EPOCH_2000`): a second name
  invites a second value, and a reader of the alias cannot see where the fact is defined.
- Test modules take the project root from `tests.PROJECT_ROOT`; none computes it from its own location.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests import PROJECT_ROOT

FACT_PACKAGE = "lambda_handlers.personalize"
SOURCE_FOLDERS = (
    "config",
    "constructs_lib",
    "lambda_handlers",
    "personalize_tools",
    "stacks",
    "benchmarks",
    "tests",
)
OWN_ROOT = re.compile(
    r"__file__\)(?:\.resolve\(\))?\.(?:parents\[\d+\]|parent\.parent)|\bapp(?:_module)?\.__file__"
)


def _sources() -> list[Path]:
    files = [PROJECT_ROOT / "app.py"]
    for folder in SOURCE_FOLDERS:
        files += (PROJECT_ROOT / folder).rglob("*.py")
    return sorted(path for path in files if "node_modules" not in path.parts)


def _fact_modules(tree: ast.Module, path: Path) -> set[str]:
    """The names this module binds to modules of the fact package (`domain`, `authz`, ...)."""
    inside = path.is_relative_to(PROJECT_ROOT / FACT_PACKAGE.replace(".", "/"))
    names: set[str] = set()
    for node in tree.body:
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.module == FACT_PACKAGE or (inside and node.level > 0 and node.module is None):
            names |= {alias.asname or alias.name for alias in node.names}
    return names


def fact_aliases(path: Path, source: str | None = None) -> list[str]:
    """`NAME = module.FACT` lines at a module's top level, where module is one of the fact package's."""
    tree = ast.parse(path.read_text(encoding="utf-8") if source is None else source)
    modules = _fact_modules(tree, path)
    found = []
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        value = getattr(node, "value", None)
        if (
            isinstance(node, ast.Assign | ast.AnnAssign)
            and isinstance(target, ast.Name)
            and isinstance(value, ast.Attribute)
            and isinstance(value.value, ast.Name)
            and value.value.id in modules
        ):
            found.append(ast.unparse(node))
    return [f"{path.relative_to(PROJECT_ROOT)}: {line}" for line in found]


def test_no_module_gives_a_fact_a_second_name() -> None:
    assert [alias for path in _sources() for alias in fact_aliases(path)] == []


def test_the_check_sees_an_alias() -> None:
    """The scan finds the aliases it was written against, plain and renamed, absolute and relative."""
    engine = PROJECT_ROOT / "personalize_tools" / "validate" / "engine.py"
    probe = engine.read_text(encoding="utf-8") + (
        "\nEPOCH_2000 = domain.EPOCH_2000\nMAX: int = domain_rules.MAX_RECOMMENDERS_PER_GROUP\n"
    )
    assert fact_aliases(engine, probe) == [
        "personalize_tools/validate/engine.py: EPOCH_2000 = domain.EPOCH_2000",
        "personalize_tools/validate/engine.py: MAX: int = domain_rules.MAX_RECOMMENDERS_PER_GROUP",
    ]
    rows = PROJECT_ROOT / "lambda_handlers" / "personalize" / "flow" / "rows.py"  # `from .. import domain`
    probe = rows.read_text(encoding="utf-8") + "\nSCOPE_DELIMITER = domain.SCOPE_DELIMITER\n"
    assert fact_aliases(rows, probe) == [
        "lambda_handlers/personalize/flow/rows.py: SCOPE_DELIMITER = domain.SCOPE_DELIMITER"
    ]


def test_tests_find_the_project_root_in_one_place() -> None:
    own = [
        f"{path.relative_to(PROJECT_ROOT).as_posix()}: {match.group(0)}"
        for path in sorted((PROJECT_ROOT / "tests").rglob("*.py"))
        if path != PROJECT_ROOT / "tests" / "__init__.py"
        for match in OWN_ROOT.finditer(path.read_text(encoding="utf-8"))
    ]
    assert own == []
    assert (PROJECT_ROOT / "app.py").is_file() and (PROJECT_ROOT / "tests" / "__init__.py").is_file()
