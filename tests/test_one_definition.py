"""Facts live once: a fact has one name in one module, and the code finds the checkout in one place.

- No module gives a fact of `lambda_handlers.personalize` (domain, domain_rules, contract, kinds,
  authorization, ...) a second name that outlives a function call: not `EPOCH_2000 = domain.EPOCH_2000`
  (at module level, in a class body, under an `if` or `try`, through `global`, or unpacked from a
  tuple), not `from ...domain import EPOCH_2000 as EPOCH`, not `EPOCH = EPOCH_2000` after importing it.
  A second name invites a second value, and a reader of the alias cannot see where the fact is defined.
  A class may go by a shorter name (`ResourceKind as Kind`): a reader's convenience, not a second fact.
  No star import from the package: it hides which names a module takes.
- No module reaches a fact through a module that only imports it (`domain_rules.RECIPES`, where
  `domain_rules` has RECIPES from `domain`): the fact is read from the module that defines it, or from a
  package that lists it in `__all__`.
- The checkout is found in one place per audience: `run_app.PROJECT_ROOT` (the app, stacks, benchmarks),
  `tests.PROJECT_ROOT` (the tests) and `personalize_tools.cli_common.PROJECT_ROOT` (the installed
  tools). No other module climbs from its own `__file__` above its own folder, however it is written
  (`.parent.parent`, `parents[1]`, `dirname(dirname(...))`, `/ ".."`, through a name like `HERE`), and no
  test locates app.py's file.

Dynamic access (`getattr(domain, name)`, `importlib.import_module`) is not checked.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
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
# The modules that own the root, one per audience (see the module docstring).
ROOT_OWNERS = ("run_app.py", "tests/__init__.py", "personalize_tools/cli_common.py")
CLASS_NAME = re.compile(r"^_?[A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*$")  # CamelCase, not CONSTANT_CASE
CONSTANT = re.compile(r"^_?[A-Z][A-Z0-9_]*$")
PATH_KEEPERS = {"Path", "pathlib.Path", "PurePath", "str", "os.fspath"} | {
    f"{prefix}{name}" for prefix in ("", "os.path.", "path.") for name in ("abspath", "realpath", "normpath")
}
DIRNAMES = {"dirname", "os.path.dirname", "path.dirname"}
JOINS = {"join", "os.path.join", "path.join"}


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
    problems: list[str] = field(default_factory=list)  # renames at import, star imports


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
                elif _is_fact_module(source) and alias.name == "*":
                    found.problems.append(f"from {source} import *")
                elif _is_fact_module(source):
                    found.facts[local] = (source, alias.name)
                    if local != alias.name and not CLASS_NAME.match(alias.name):
                        found.problems.append(f"from {source} import {alias.name} as {local}")
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
    """Names a fact module binds by importing them, and neither defines nor lists in `__all__`."""
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
            if any(isinstance(target, ast.Name) and target.id == "__all__" for target in targets):
                assert node.value is not None
                defined |= set(ast.literal_eval(node.value))
    return frozenset(imported - defined)


def _lasting_bindings(tree: ast.Module) -> Iterator[tuple[ast.expr, ast.expr]]:
    """(target, value) of every assignment whose name outlives a call: at module level (under `if`,
    `try`, `with`, loops), to a function's `global` names, and constants (CONSTANT_CASE) in class bodies;
    tuples unpacked. A lower-case class attribute (`kind = kinds.DATASET` in each handler class) is the
    class's own setting, read through the class, not a second name for the fact."""

    def pairs(target: ast.expr, value: ast.expr) -> Iterator[tuple[ast.expr, ast.expr]]:
        if isinstance(target, ast.Tuple | ast.List) and isinstance(value, ast.Tuple | ast.List):
            if len(target.elts) == len(value.elts):
                for inner_target, inner_value in zip(target.elts, value.elts, strict=True):
                    yield from pairs(inner_target, inner_value)
        else:
            yield target, value

    def visit(
        statements: list[ast.stmt], globals_: set[str] | None, in_class: bool = False
    ) -> Iterator[tuple[ast.expr, ast.expr]]:
        def lasts(target: ast.expr) -> bool:
            if globals_ is not None:
                return isinstance(target, ast.Name) and target.id in globals_
            return not in_class or (isinstance(target, ast.Name) and bool(CONSTANT.match(target.id)))

        for node in statements:
            if isinstance(node, ast.ClassDef):
                yield from visit(node.body, globals_, in_class=True)
                continue
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                declared = {
                    name for inner in ast.walk(node) if isinstance(inner, ast.Global) for name in inner.names
                }
                if declared:
                    yield from visit(node.body, declared)
                continue
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    for inner_target, inner_value in pairs(target, node.value):
                        if lasts(inner_target):
                            yield inner_target, inner_value
            elif isinstance(node, ast.AnnAssign) and node.value is not None and lasts(node.target):
                yield node.target, node.value
            for child in ("body", "orelse", "finalbody", "handlers"):
                nested = getattr(node, child, None)
                if (
                    isinstance(nested, list)
                    and nested
                    and isinstance(nested[0], ast.stmt | ast.excepthandler)
                ):
                    blocks = [handler.body for handler in nested] if child == "handlers" else [nested]
                    for block in blocks:
                        yield from visit(block, globals_, in_class)

    yield from visit(tree.body, None)


def fact_aliases(path: Path, source: str | None = None) -> list[str]:
    """Second names for facts, and facts read through a module that only imports them, in one module."""
    tree = ast.parse(path.read_text(encoding="utf-8") if source is None else source)
    bindings = _bindings(tree, path)
    found = list(bindings.problems)
    for target, value in _lasting_bindings(tree):
        fact = _fact_of(value, bindings)
        if (
            isinstance(target, ast.Name)
            and fact is not None
            and not CLASS_NAME.match(fact[1])
            and (target.id != fact[1] or isinstance(value, ast.Attribute))
        ):
            found.append(f"{target.id} = {ast.unparse(value)}")
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


def root_climbs(path: Path, source: str | None = None) -> list[str]:
    """Expressions that climb from the module's own `__file__` above its own folder, and (in tests) any
    use of app.py's file. Levels: 0 is the file, 1 its folder, 2 and more a climb."""
    tree = ast.parse(path.read_text(encoding="utf-8") if source is None else source)
    names: dict[str, int] = {}  # names bound to a path derived from __file__, with its level

    def dots(node: ast.expr) -> int:
        return (
            str(node.value).replace("\\", "/").split("/").count("..") if isinstance(node, ast.Constant) else 0
        )

    def level(node: ast.expr) -> int | None:
        if isinstance(node, ast.Name):
            return 0 if node.id == "__file__" else names.get(node.id)
        if isinstance(node, ast.Attribute) and node.attr == "parent":
            inner = level(node.value)
            return None if inner is None else inner + 1
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "parents"
        ):
            inner = level(node.value.value)
            if inner is None:
                return None
            index = node.slice  # an index that is not a literal (`parents[LEVEL]`) counts as a climb
            return (
                inner
                + 1
                + (index.value if isinstance(index, ast.Constant) and isinstance(index.value, int) else 1)
            )
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            inner = level(node.left)
            return None if inner is None or not dots(node.right) else inner + dots(node.right)
        if isinstance(node, ast.Call) and node.args:
            function = _dotted(node.func) or ""
            if function in PATH_KEEPERS:
                return level(node.args[0])
            if function in DIRNAMES:
                inner = level(node.args[0])
                return None if inner is None else inner + 1
            if function in JOINS:
                inner = level(node.args[0])
                return (
                    None
                    if inner is None or not any(map(dots, node.args[1:]))
                    else inner + sum(map(dots, node.args[1:]))
                )
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ("resolve", "absolute", "expanduser"):
                return level(node.func.value)
            if node.func.attr == "joinpath":
                inner = level(node.func.value)
                return (
                    None
                    if inner is None or not any(map(dots, node.args))
                    else inner + sum(map(dots, node.args))
                )
        return None

    found: list[str] = []
    in_tests = path.relative_to(PROJECT_ROOT).parts[0] == "tests"

    class Visitor(ast.NodeVisitor):
        def generic_visit(self, node: ast.AST) -> None:
            # A name bound to a climb was reported where it was bound; its uses are not reported again.
            if isinstance(node, ast.expr) and not isinstance(node, ast.Name):
                climbed = level(node)
                if climbed is not None and climbed >= 2:
                    found.append(ast.unparse(node))
                    return  # the outermost climbing expression only
            if (
                in_tests
                and isinstance(node, ast.Attribute)
                and node.attr == "__file__"
                and isinstance(node.value, ast.Name)
                and node.value.id in ("app", "app_module")
            ):
                found.append(ast.unparse(node))
            super().generic_visit(node)

        def visit_Assign(self, node: ast.Assign) -> None:
            self.visit(node.value)
            climbed = level(node.value)
            for target in node.targets:
                if isinstance(target, ast.Name) and climbed is not None:
                    names[target.id] = climbed

    Visitor().visit(tree)
    return [f"{path.relative_to(PROJECT_ROOT).as_posix()}: {line}" for line in found]


def test_no_module_gives_a_fact_a_second_name_or_reads_it_through_another_module() -> None:
    assert [alias for path in _sources() for alias in fact_aliases(path)] == []


def test_the_fact_check_sees_the_forms_it_was_written_against() -> None:
    """Plain and renamed, absolute and relative, renamed at import, re-bound after import, nested in an
    `if`, `try` or class body, through `global`, unpacked, star-imported, and read through a module that
    only imports the fact; a class under a shorter name and a package's `__all__` are allowed."""
    engine = PROJECT_ROOT / "personalize_tools" / "validate" / "engine.py"
    probe = engine.read_text(encoding="utf-8") + (
        "\nEPOCH_2000 = domain.EPOCH_2000\nMAX: int = domain_rules.MAX_RECOMMENDERS_PER_GROUP\n"
        "import lambda_handlers.personalize.domain as facts\nLIMIT = facts.NAME_MAX_LENGTH\n"
        "import lambda_handlers.personalize.domain\n"
        "DELIMITER = lambda_handlers.personalize.domain.SCOPE_DELIMITER\n"
        "from lambda_handlers.personalize.domain import EPOCH_2000 as EPOCH\n"
        "from lambda_handlers.personalize.domain import NAME_MAX_LENGTH\nLONGEST = NAME_MAX_LENGTH\n"
        "recipes = domain_rules.RECIPES\n"
        "if True:\n    NESTED = domain.EPOCH_2000\n"
        "try:\n    TRIED = domain.EPOCH_2000\nexcept ImportError:\n    pass\n"
        "class Holder:\n    HELD = domain.EPOCH_2000\n    kind = domain.EPOCH_2000\n"
        "def setup():\n    global SET\n    SET = domain.EPOCH_2000\n    local = domain.EPOCH_2000\n"
        "FIRST, SECOND = domain.EPOCH_2000, domain.NAME_MAX_LENGTH\n"
        "from lambda_handlers.personalize.domain import *\n"
        "from lambda_handlers.personalize.kinds import ResourceKind as Kind\nKind2 = kinds.ResourceKind\n"
        "from lambda_handlers.personalize.resources import Dataset\n"
    )
    assert fact_aliases(engine, probe) == [
        f"personalize_tools/validate/engine.py: {line}"
        for line in (
            "from lambda_handlers.personalize.domain import EPOCH_2000 as EPOCH",
            "from lambda_handlers.personalize.domain import *",
            "EPOCH_2000 = domain.EPOCH_2000",
            "MAX = domain_rules.MAX_RECOMMENDERS_PER_GROUP",
            "LIMIT = facts.NAME_MAX_LENGTH",
            "DELIMITER = lambda_handlers.personalize.domain.SCOPE_DELIMITER",
            "LONGEST = NAME_MAX_LENGTH",
            "recipes = domain_rules.RECIPES",
            "NESTED = domain.EPOCH_2000",
            "TRIED = domain.EPOCH_2000",
            "HELD = domain.EPOCH_2000",
            "SET = domain.EPOCH_2000",
            "FIRST = domain.EPOCH_2000",
            "SECOND = domain.NAME_MAX_LENGTH",
            "domain_rules.RECIPES (only imported by lambda_handlers.personalize.domain_rules)",
        )
    ]
    rows = PROJECT_ROOT / "lambda_handlers" / "personalize" / "flow" / "rows.py"  # `from .. import domain`
    probe = rows.read_text(encoding="utf-8") + "\nSCOPE_DELIMITER = domain.SCOPE_DELIMITER\n"
    assert fact_aliases(rows, probe) == [
        "lambda_handlers/personalize/flow/rows.py: SCOPE_DELIMITER = domain.SCOPE_DELIMITER"
    ]


def test_the_checkout_is_found_in_one_place_per_audience() -> None:
    climbs = [
        climb
        for path in _sources()
        if path.relative_to(PROJECT_ROOT).as_posix() not in ROOT_OWNERS
        for climb in root_climbs(path)
    ]
    assert climbs == []
    assert all((PROJECT_ROOT / owner).is_file() for owner in ROOT_OWNERS)


def test_the_root_check_sees_the_climbs_it_was_written_against() -> None:
    probe = PROJECT_ROOT / "benchmarks" / "bench_iam.py"
    source = """
import os
from pathlib import Path
import aws_cdk
A = Path(__file__).resolve().parents[2]
B = Path(__file__).absolute().parent.parent
C = os.path.dirname(os.path.dirname(__file__))
D = os.path.join(os.path.dirname(__file__), "..")
HERE = Path(__file__).resolve(strict=True).parent
E = HERE.parent
F = (
    Path(os.path.abspath(__file__))
    .parent
    .parent
)
G = HERE / ".." / "config"
LEVEL = 1
H = Path(__file__).parents[LEVEL]
OWN = Path(__file__).parent / "events"
ALSO_OWN = os.path.dirname(os.path.abspath(__file__))
FIRST = Path(__file__).parents[0]
NOT_OURS = Path(aws_cdk.__file__).parent.parent
# Path(__file__).parent.parent in a comment
"""
    assert [line.split(": ", 1)[1] for line in root_climbs(probe, source)] == [
        "Path(__file__).resolve().parents[2]",
        "Path(__file__).absolute().parent.parent",
        "os.path.dirname(os.path.dirname(__file__))",
        "os.path.join(os.path.dirname(__file__), '..')",
        "HERE.parent",
        "Path(os.path.abspath(__file__)).parent.parent",
        "HERE / '..'",
        "Path(__file__).parents[LEVEL]",
    ]
    test = PROJECT_ROOT / "tests" / "stacks" / "test_app.py"
    assert root_climbs(test, "import app\nROOT = Path(app.__file__).parent\n") == [
        "tests/stacks/test_app.py: app.__file__"
    ]
