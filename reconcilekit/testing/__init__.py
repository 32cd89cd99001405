"""Test helpers shipped to users: in-memory fakes, a controller runner, and real-server harnesses.

The fakes are for fast unit tests; they are checked against the real implementations in reconcilekit's own
test suite, and each documents what it does not do. For Kubernetes behaviour that matters, use
:mod:`reconcilekit.testing.envtest` (a real kube-apiserver + etcd).
"""

from __future__ import annotations

__all__: list[str] = []
