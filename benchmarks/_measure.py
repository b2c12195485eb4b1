"""Time and peak memory of one command run in its own process.

Each measurement is a fresh child process so its peak RSS is its own: os.wait4 returns that
child's rusage (ru_maxrss), where RUSAGE_CHILDREN would report the largest of all children so far.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Measurement:
    seconds: float  # wall clock
    cpu_seconds: float  # user + system, all threads
    peak_rss_mb: float
    returncode: int


def measure(
    command: Sequence[str], *, env: dict[str, str] | None = None, cwd: str | os.PathLike[str] | None = None
) -> Measurement:
    """Run COMMAND to completion, discarding its output, and measure it."""
    started = time.perf_counter()
    process = subprocess.Popen(
        list(command),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    assert process.stderr is not None
    errors = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    process.stderr.close()
    if process.returncode not in (0, 1):
        raise RuntimeError(
            f"{' '.join(command)} exited {process.returncode}: {errors.decode(errors='replace')[-2000:]}"
        )
    return Measurement(
        seconds=seconds,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,  # Linux reports kilobytes
        returncode=process.returncode,
    )


def best_of(command: Sequence[str], repeats: int, *, env: dict[str, str] | None = None) -> Measurement:
    """The fastest of REPEATS runs (other processes only ever add time); peak RSS is the largest seen."""
    return best_measurement([measure(command, env=env) for _ in range(max(1, repeats))])


def best_measurement(runs: Sequence[Measurement]) -> Measurement:
    """The fastest run's time, the least CPU, the largest peak RSS."""
    fastest = min(runs, key=lambda run: run.seconds)
    return Measurement(
        seconds=fastest.seconds,
        cpu_seconds=min(run.cpu_seconds for run in runs),
        peak_rss_mb=max(run.peak_rss_mb for run in runs),
        returncode=fastest.returncode,
    )
