"""The cleanup's order among replaced resources: a replaced dataset goes before the replaced schema it
used, so the schema's Delete never finds it still there (the matrix's orphan schema)."""

from __future__ import annotations

from personalize_tools.localdeploy.engine import _Run
from personalize_tools.localdeploy.graph import reverse
from personalize_tools.localdeploy.state import ResourceRecord


def _record(logical_id: str, physical_id: str, *dependencies: str) -> ResourceRecord:
    return ResourceRecord(logical_id, f"Custom::{logical_id}", physical_id, dependencies=list(dependencies))


def test_a_replaced_resource_goes_before_the_replaced_resources_it_depended_on() -> None:
    retired = [
        _record("Schema", "schema-new"),
        _record("Group", "group-new"),
        _record("Dataset", "dataset-new", "Schema", "Group"),
    ]
    current = [_record("Tracker", "tracker-removed", "Group")]

    nodes, dependencies = _Run.deletion_plan(current, retired, rollback=True)

    assert dependencies["Dataset#2"] == {"Schema#0", "Group#1"}
    waits_for = reverse(dependencies)  # deleting: a node waits for those that depended on it
    assert waits_for["Schema#0"] == {"Dataset#2"}
    assert waits_for["Group#1"] == {"Dataset#2"}  # a current resource depends on the current group
    assert set(nodes) == {"Schema#0", "Group#1", "Dataset#2", "Tracker"}


def test_records_whose_dependencies_ran_the_other_way_are_still_deleted() -> None:
    """Two deploys' replaced records may depend on each other both ways: no order among them then, as
    before, rather than a cycle that deletes nothing."""
    retired = [_record("A", "a-1", "B"), _record("B", "b-1", "A")]

    _, dependencies = _Run.deletion_plan([], retired, rollback=False)

    assert dependencies == {"A#0": set(), "B#1": set()}
