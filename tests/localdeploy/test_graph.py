"""Dependency order and parallelism: what CloudFormation would run at once runs at once, in order."""

from __future__ import annotations

import signal
import threading

import pytest

from personalize_tools.localdeploy.errors import TemplateError
from personalize_tools.localdeploy.graph import (
    Interruption,
    critical_path,
    reverse,
    run_graph,
    topological_order,
)

# The Personalize resources of one dataset group, as the stack wires them.
GRAPH = {
    "Group": set(),
    "Schema": set(),
    "Dataset": {"Group", "Schema"},
    "Import": {"Dataset"},
    "Tracker": {"Dataset"},
}


def test_topological_order_puts_prerequisites_first_and_refuses_cycles() -> None:
    order = topological_order(GRAPH)
    assert order.index("Dataset") > max(order.index("Group"), order.index("Schema"))
    assert order.index("Import") > order.index("Dataset") and order.index("Tracker") > order.index("Dataset")
    with pytest.raises(TemplateError, match="circular dependency between resources: A, B"):
        topological_order({"A": {"B"}, "B": {"A"}, "C": set()})


def test_work_starts_only_after_its_prerequisites_finished() -> None:
    finished: list[str] = []
    lock = threading.Lock()

    def work(node: str) -> None:
        with lock:
            assert GRAPH[node] <= set(finished), f"{node} started before {GRAPH[node] - set(finished)}"
            finished.append(node)

    run = run_graph(GRAPH, work, max_workers=4)
    assert run.succeeded and sorted(run.completed) == sorted(GRAPH)


def test_independent_nodes_run_concurrently() -> None:
    """Group and Schema each wait for the other at a barrier: a sequential run would break it."""
    barrier = threading.Barrier(2, timeout=10)

    def work(node: str) -> None:
        if node in ("Group", "Schema"):
            barrier.wait()

    run = run_graph(GRAPH, work, max_workers=4)
    assert run.succeeded, run.failed


def test_a_failure_stops_new_work_but_lets_running_work_finish() -> None:
    release = threading.Event()

    def work(node: str) -> None:
        if node == "Schema":
            raise RuntimeError("schema refused")
        if node == "Group":
            release.wait(10)  # still running when Schema fails

    def fail_then_release(node: str) -> None:
        try:
            work(node)
        finally:
            if node == "Schema":
                release.set()

    run = run_graph(GRAPH, fail_then_release, max_workers=4)
    assert "Group" in run.completed
    assert list(run.failed) == ["Schema"]
    assert run.not_started == ["Dataset", "Import", "Tracker"]


def test_deleting_continues_where_nothing_depends_on_the_failure() -> None:
    deleted: list[str] = []

    def work(node: str) -> None:
        if node == "Tracker":
            raise RuntimeError("in use")
        deleted.append(node)

    run = run_graph(reverse(GRAPH), work, max_workers=2, continue_after_failure=True)
    assert "Import" in deleted
    assert run.not_started == ["Dataset", "Group", "Schema"]  # each waits, directly or not, on Tracker


def test_critical_path_is_the_longest_chain_of_durations() -> None:
    durations = {"Group": 2.0, "Schema": 0.5, "Dataset": 2.0, "Import": 4.0, "Tracker": 1.0}
    total, path = critical_path(GRAPH, durations)
    assert total == 8.0
    assert path == ["Group", "Dataset", "Import"]


def test_ctrl_c_lets_running_work_finish_and_starts_nothing_new() -> None:
    """As a cancelled CloudFormation update: operations in flight complete, nothing else begins."""
    interruption = Interruption()

    def work(node: str) -> None:
        if node == "Group":
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)  # Ctrl-C
            assert interruption.requested.wait(10), "the first Ctrl-C was not noticed"

    run = run_graph({"Group": set(), "Dataset": {"Group"}}, work, max_workers=1, interruption=interruption)
    assert run.interrupted and not run.succeeded
    assert run.completed == ["Group"]
    assert run.not_started == ["Dataset"]
    assert not interruption.cancel.is_set()  # only a second Ctrl-C cancels the waits in flight
