"""`make test`'s schedule: the longest modules first, which only holds while each name in the list is a
module and xdist keeps the collection order (without --no-loadscope-reorder it sorts files by their number
of tests, and the longest modules, which have few, ran last)."""

from __future__ import annotations

import re

from tests import PROJECT_ROOT

from .conftest import LONGEST_MODULES


def test_every_longest_module_is_a_test_module() -> None:
    assert [name for name in LONGEST_MODULES if not (PROJECT_ROOT / name).is_file()] == []
    assert len(set(LONGEST_MODULES)) == len(LONGEST_MODULES)


def test_make_test_hands_out_whole_files_in_collection_order() -> None:
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    (recipe,) = re.findall(r"^test:.*\n\t(.*)$", makefile, flags=re.MULTILINE)
    options = recipe.split()
    assert "--no-loadscope-reorder" in options
    assert options[options.index("--dist") + 1] == "loadfile"
