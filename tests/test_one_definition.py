"""Facts live once: a fact has one name in one module, and the code finds the checkout in one place.

- No module binds a fact of `lambda_handlers.personalize` (domain, domain_rules, contract, kinds,
  authorization, ...) to a module-level name of its own: not `EPOCH_2000 = domain.EPOCH_2000`, not
  `from ...domain import EPOCH_2000 as EPOCH`, not `EPOCH = EPOCH_2000` after importing it. A second name
  invites a second value, and a reader of the alias cannot see where the fact is defined. A rename at
  import is checked for constants (named in capitals): a class imported under a shorter name
  (`ResourceKind as Kind`) is a reader's convenience, not a second fact.
- No module reaches a fact through a module that only imports it (`domain_rules.RECIPES`, where
  `domain_rules` has RECIPES from `domain`): the fact is read from the module that defines it.
- The checkout is found in one place per audience: `run_app.PROJECT_ROOT` (the app, stacks, benchmarks),
  `tests.PROJECT_ROOT` (the tests) and `personalize_tools.cli_common.PROJECT_ROOT` (the installed
  tools); no other module climbs from its own file to the root.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from functools import cache
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
# A climb from a module's own file to a folder above its own: `Path(__file__).resolve().parents[1]`,
# `.absolute().parent.parent`, `os.path.dirname(os.path.dirname(__file__))`, or (in tests) app's file.
OWN_ROOT = re.compile(
    r"__file__\)(?:\.resolve\(\)|\.absolute\(\))*\.(?:parents\[\d+\]|parent\.parent)"
    r"|dirname\((?:os\.path\.)?dirname\([^)]*__file__"
    r"|\bapp(?:_module)?\.__file__"
)
# The modules that own the root, one per audience (see the module docstring); this test holds examples.
ROOT_OWNERS = ("run_app.py", "tests/__init__.py", "personalize_tools/cli_common.py")
EXAMPLES = "tests/test_one_definition.py"
CONSTANT = re.compile(r"^[A-Z][A-Z0-9_]*$")


def _sources() -> list[Path]:
    files = [PROJECT_ROOT / "app.py", PROJECT_ROOT / "run_app.py"]
    for folder in SOURCE_FOLDERS:
        files += (PROJECT_ROOT / folder).rglob("*.py")
    return sorted(path for path in files if "node_modules" not in path.parts)


def _module_file(qualified: str) -> Path | None:
    """The file of a module of the fact package, or None if QUALIFIED is no such module."""
    base = PROJECT_ROOT.joinpath(*qualified.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _is_fact_module(qualified: str) -> bool:
    return (qualified == FACT_PACKAGE or qualified.startswith(FACT_PACKAGE + ".")) and bool(
        _module_file(qualified)
    )


def _package_of(path: Path) -> str:
    """The dotted package a source file belongs to (`lambda_handlers.personalize.flow` for flow/rows.py)."""
    return ".".join(path.relative_to(PROJECT_ROOT).parts[:-1])


def _absolute(node: ast.ImportFrom, path: Path) -> str:
    """The module an import-from names, relative imports resolved against PATH's package."""
    if not node.level:
        return node.module or ""
    package = _package_of(path).split(".")
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


@dataclass
class Bindings:
    """What a module's imports bind: names of fact modules, and names of facts imported by name."""

    modules: dict[str, str] = field(default_factory=dict)  # local name -> fact module
    facts: dict[str, tuple[str, str]] = field(default_factory=dict)  # local name -> (fact module, name)
    renamed: list[str] = field(default_factory=list)  # `from M import FACT as OTHER`


def _bindings(tree: ast.Module, path: Path) -> Bindings:
    found = Bindings()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _is_fact_module(alias.name):
                    # `import a.b.c as x` binds x to a.b.c; `import a.b.c` binds a, read as a dotted chain.
                    found.modules[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(node, path)
            for alias in node.names:
                local = alias.asname or alias.name
                if _is_fact_module(f"{source}.{alias.name}"):
                    found.modules[local] = f"{source}.{alias.name}"
                elif _is_fact_module(source):
                    found.facts[local] = (source, alias.name)
                    if alias.asname and alias.asname != alias.name and CONSTANT.match(alias.name):
                        found.renamed.append(f"from {source} import {alias.name} as {local}")
    return found


def _dotted(node: ast.expr) -> str | None:
    """`a.b.c` for a chain of names and attributes, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else None
    return None


def _fact_of(expression: ast.expr, bindings: Bindings) -> tuple[str, str] | None:
    """(fact module, name) when EXPRESSION reads a fact of the package, else None."""
    dotted = _dotted(expression)
    if dotted is None:
        return None
    head, *rest = dotted.split(".")
    if not rest:
        return bindings.facts.get(head)
    for local, module in bindings.modules.items():
        if dotted.startswith(local + "."):
            remainder = dotted[len(local) + 1 :].split(".")
            qualified = module
            while len(remainder) > 1 and _is_fact_module(f"{qualified}.{remainder[0]}"):
                qualified, remainder = f"{qualified}.{remainder[0]}", remainder[1:]
            if len(remainder) == 1:
                return qualified, remainder[0]
    return None


@cache
def _imported_only(qualified: str) -> frozenset[str]:
    """Names a fact module binds by importing them, and does not define itself."""
    path = _module_file(qualified)
    assert path is not None, qualified
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported: set[str] = set()
    defined: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom | ast.Import):
            imported |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            defined |= {target.id for target in targets if isinstance(target, ast.Name)}
    return frozenset(imported - defined)


def fact_aliases(path: Path, source: str | None = None) -> list[str]:
    """Second names for facts, and facts read through a module that only imports them, in one module."""
    tree = ast.parse(path.read_text(encoding="utf-8") if source is None else source)
    bindings = _bindings(tree, path)
    found = list(bindings.renamed)
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        value = getattr(node, "value", None)
        if (
            isinstance(node, ast.Assign | ast.AnnAssign)
            and isinstance(target, ast.Name)
            and isinstance(value, ast.expr)
            and (fact := _fact_of(value, bindings))
            and (target.id != fact[1] or isinstance(value, ast.Attribute))
        ):
            found.append(ast.unparse(node))
    reads: list[tuple[str, tuple[str, str]]] = [
        (ast.unparse(read), fact)
        for read in ast.walk(tree)
        if isinstance(read, ast.Attribute) and (fact := _fact_of(read, bindings))
    ]
    reads += [(f"from {module} import {name}", (module, name)) for module, name in bindings.facts.values()]
    for shown, (module, name) in reads:
        if name in _imported_only(module):
            found.append(f"{shown} (only imported by {module})")
    return [f"{path.relative_to(PROJECT_ROOT).as_posix()}: {line}" for line in dict.fromkeys(found)]


def test_no_module_gives_a_fact_a_second_name_or_reads_it_through_another_module() -> None:
    assert [alias for path in _sources() for alias in fact_aliases(path)] == []


def test_the_check_sees_every_kind_of_alias() -> None:
    """The scan finds the aliases it was written against: plain and renamed, absolute and relative,
    renamed at import, re-bound after import, and read through a module that only imports the fact."""
    engine = PROJECT_ROOT / "personalize_tools" / "validate" / "engine.py"
    probe = engine.read_text(encoding="utf-8") + (
        "\nEPOCH_2000 = domain.EPOCH_2000\nMAX: int = domain_rules.MAX_RECOMMENDERS_PER_GROUP\n"
        "import lambda_handlers.personalize.domain as facts\nLIMIT = facts.NAME_MAX_LENGTH\n"
        "import lambda_handlers.personalize.domain\n"
        "DELIMITER = lambda_handlers.personalize.domain.SCOPE_DELIMITER\n"
        "from lambda_handlers.personalize.domain import EPOCH_2000 as EPOCH\n"
        "from lambda_handlers.personalize.domain import NAME_MAX_LENGTH\nLONGEST = NAME_MAX_LENGTH\n"
        "recipes = domain_rules.RECIPES\n"
    )
    assert fact_aliases(engine, probe) == [
        "personalize_tools/validate/engine.py: " + line
        for line in (
            "from lambda_handlers.personalize.domain import EPOCH_2000 as EPOCH",
            "EPOCH_2000 = domain.EPOCH_2000",
            "MAX: int = domain_rules.MAX_RECOMMENDERS_PER_GROUP",
            "LIMIT = facts.NAME_MAX_LENGTH",
            "DELIMITER = lambda_handlers.personalize.domain.SCOPE_DELIMITER",
            "LONGEST = NAME_MAX_LENGTH",
            "recipes = domain_rules.RECIPES",
            "domain_rules.RECIPES (only imported by lambda_handlers.personalize.domain_rules)",
        )
    ]
    rows = PROJECT_ROOT / "lambda_handlers" / "personalize" / "flow" / "rows.py"  # `from .. import domain`
    probe = rows.read_text(encoding="utf-8") + "\nSCOPE_DELIMITER = domain.SCOPE_DELIMITER\n"
    assert fact_aliases(rows, probe) == [
        "lambda_handlers/personalize/flow/rows.py: SCOPE_DELIMITER = domain.SCOPE_DELIMITER"
    ]


def test_the_checkout_is_found_in_one_place_per_audience() -> None:
    own = [
        f"{relative}: {match.group(0)}"
        for path in _sources()
        if (relative := path.relative_to(PROJECT_ROOT).as_posix()) not in (*ROOT_OWNERS, EXAMPLES)
        for match in OWN_ROOT.finditer(path.read_text(encoding="utf-8"))
        if relative.startswith("tests/") or "app" not in match.group(0)
    ]
    assert own == []
    assert all((PROJECT_ROOT / owner).is_file() for owner in ROOT_OWNERS)


def test_the_root_check_sees_every_kind_of_climb() -> None:
    climbs = [
        "Path(__file__).resolve().parents[2]",
        "Path(__file__).absolute().parent.parent",
        "Path(__file__).parents[1]",
        "os.path.dirname(os.path.dirname(__file__))",
        "dirname(dirname(os.path.abspath(__file__)))",
        "Path(app.__file__).parent",
    ]
    assert [bool(OWN_ROOT.search(climb)) for climb in climbs] == [True] * len(climbs)
    # A module's own folder is not the root.
    assert not OWN_ROOT.search('EVENTS = Path(__file__).parent / "events"')
    assert not OWN_ROOT.search("os.path.dirname(os.path.abspath(__file__))")
