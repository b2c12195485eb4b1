"""Running work over a dependency graph the way CloudFormation does: everything whose dependencies are
done starts at once (a thread pool), and a failure stops new work while what is in flight finishes."""

from __future__ import annotations

import concurrent.futures
import contextlib
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import FrameType

from personalize_tools.localdeploy.errors import TemplateError

Dependencies = Mapping[str, Iterable[str]]


@dataclass
class GraphRun:
    """What a run did: finished nodes in completion order, failures with their exceptions, and the rest."""

    completed: list[str] = field(default_factory=list)
    failed: dict[str, BaseException] = field(default_factory=dict)
    not_started: list[str] = field(default_factory=list)
    interrupted: bool = False  # Ctrl-C: nothing new was started after it

    @property
    def succeeded(self) -> bool:
        return not self.failed and not self.not_started and not self.interrupted


def _normalized(dependencies: Dependencies) -> dict[str, set[str]]:
    nodes = set(dependencies)
    return {node: set(prerequisites) & nodes for node, prerequisites in dependencies.items()}


def reverse(dependencies: Dependencies) -> dict[str, set[str]]:
    """The graph for deleting: a node waits for every node that depended on it."""
    graph = _normalized(dependencies)
    reversed_graph: dict[str, set[str]] = {node: set() for node in graph}
    for node, prerequisites in graph.items():
        for prerequisite in prerequisites:
            reversed_graph[prerequisite].add(node)
    return reversed_graph


def topological_order(dependencies: Dependencies) -> list[str]:
    """Nodes with prerequisites first (ties in name order); a cycle raises TemplateError naming its nodes."""
    graph = _normalized(dependencies)
    order: list[str] = []
    done: set[str] = set()
    while len(done) < len(graph):
        ready = sorted(node for node in graph if node not in done and graph[node] <= done)
        if not ready:
            cycle = sorted(node for node in graph if node not in done)
            raise TemplateError(f"circular dependency between resources: {', '.join(cycle)}")
        order.extend(ready)
        done.update(ready)
    return order


def critical_path(dependencies: Dependencies, durations: Mapping[str, float]) -> tuple[float, list[str]]:
    """The longest chain of durations through the graph: the least time any parallel schedule needs."""
    graph = _normalized(dependencies)
    finish: dict[str, float] = {}
    previous: dict[str, str | None] = {}
    for node in topological_order(graph):
        before = max(graph[node], key=lambda other: finish[other], default=None)
        finish[node] = (finish[before] if before else 0.0) + durations.get(node, 0.0)
        previous[node] = before
    if not finish:
        return 0.0, []
    end: str | None = max(finish, key=lambda node: finish[node])
    total = finish[end] if end else 0.0
    path: list[str] = []
    while end is not None:
        path.append(end)
        end = previous[end]
    return total, path[::-1]


@dataclass
class Interruption:
    """Ctrl-C during a run: the first press stops new work (`requested`), the second cancels waits."""

    requested: threading.Event = field(default_factory=threading.Event)
    cancel: threading.Event = field(default_factory=threading.Event)


@contextlib.contextmanager
def _interrupts(interruption: Interruption) -> Iterator[None]:
    """A first Ctrl-C only sets `requested`, so it can never break bookkeeping half way; a second one
    sets `cancel` and raises KeyboardInterrupt. (Python delivers signals to the main thread only.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        if interruption.requested.is_set():
            interruption.cancel.set()
            raise KeyboardInterrupt
        interruption.requested.set()

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run_graph(
    dependencies: Dependencies,
    work: Callable[[str], None],
    *,
    max_workers: int,
    continue_after_failure: bool = False,
    interruption: Interruption | None = None,
) -> GraphRun:
    """Call `work(node)` for every node once its prerequisites completed, concurrently where possible.

    After a failure no new node starts unless `continue_after_failure` (deletes carry on with what does
    not depend on the failed node, as CloudFormation's do); nodes that could not start are `not_started`.
    A first Ctrl-C stops new work and lets the nodes in flight finish (`interrupted`), as CloudFormation
    lets a cancelled update's operations finish; a second one sets `interruption.cancel`, so long waits
    inside `work` give up, and raises KeyboardInterrupt once the nodes in flight have returned.
    """
    graph = _normalized(dependencies)
    topological_order(graph)  # refuse cycles before starting anything
    interruption = interruption or Interruption()
    run = GraphRun()
    pending = set(graph)
    blocked: set[str] = set()
    with (
        _interrupts(interruption),
        concurrent.futures.ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool,
    ):
        running: dict[concurrent.futures.Future[None], str] = {}
        while True:
            if not interruption.requested.is_set() and (continue_after_failure or not run.failed):
                done = set(run.completed)
                for node in sorted(pending):
                    if graph[node] & (blocked | set(run.failed)):
                        blocked.add(node)
                    elif graph[node] <= done:
                        running[pool.submit(work, node)] = node
                pending.difference_update(running.values(), blocked)
            if not running:
                break
            finished, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in finished:
                node = running.pop(future)
                error = future.exception()
                if error is None:
                    run.completed.append(node)
                else:
                    run.failed[node] = error
    run.interrupted = interruption.requested.is_set()
    run.not_started = sorted(pending | blocked)
    return run
