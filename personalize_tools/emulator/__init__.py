"""A local Amazon Personalize emulator that boto3 and the AWS CLI reach over HTTP.

See docs/emulator.md. The public surface: `EmulatorServer`, `Pace`, `Faults`, `ManualClock`.
"""

from __future__ import annotations

from personalize_tools.emulator.faults import Faults
from personalize_tools.emulator.lifecycle import ManualClock, Pace
from personalize_tools.emulator.server import EmulatorServer

__all__ = ["EmulatorServer", "Faults", "ManualClock", "Pace"]
