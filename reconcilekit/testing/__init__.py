"""Test helpers shipped to users: in-memory fakes, a manual clock, a controller runner, real-server harnesses.

The fakes (:class:`MemorySource`, :class:`MemorySink`) are for fast unit tests; reconcilekit's own suite
checks them against the real implementations, and each documents what it does not do. For Kubernetes
behaviour that matters, use :mod:`reconcilekit.testing.envtest` (a real kube-apiserver + etcd).
"""

from __future__ import annotations

from .._errors import PruneToEmptyError  # re-exported: the sinks' shared safety error
from .._public import publish
from ._clock import ManualClock
from ._fake_cluster import FakeCluster
from ._memory import MemorySink, MemorySource
from ._runner import run_controller

__all__ = ["FakeCluster", "ManualClock", "MemorySink", "MemorySource", "PruneToEmptyError", "run_controller"]

publish(globals(), __name__)
