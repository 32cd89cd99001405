"""A real Kubernetes API server for tests: etcd + kube-apiserver on loopback, as controller-runtime's envtest.

Use it when behaviour of the real API server matters (validation, defaulting, server-side apply, RBAC,
resourceVersion conflicts, watches); :class:`reconcilekit.testing.FakeCluster` is faster but only a model.

Example::

    from reconcilekit.testing import envtest

    async with envtest.start() as env:
        env.kubeconfig   # path of a kubeconfig file for the admin user; kubectl works with it

For pytest, the ``reconcilekit`` plugin provides a session-scoped ``envtest_server`` fixture (an
:class:`Environment`) and a function-scoped ``envtest_namespace`` fixture (a fresh namespace name); mark such
tests with ``@pytest.mark.envtest``.

Binaries: ``$KUBEBUILDER_ASSETS`` (a directory with ``kube-apiserver`` and ``etcd``, e.g. from
controller-runtime's setup-envtest), else the cache ``tools/envtest/build.sh`` fills
(``~/.cache/reconcilekit/envtest/<version>/bin``; see :func:`cache_dir`). There is no controller-manager:
nothing acts on stored objects (no pods run, deleted namespaces stay ``Terminating``, no garbage collection).
"""

from __future__ import annotations

from .._public import publish
from ._envtest import (
    DEFAULT_KUBERNETES_VERSION,
    BinariesNotFoundError,
    CRDNotEstablishedError,
    Environment,
    EnvtestError,
    EnvtestRequestError,
    ServerStartError,
    cache_dir,
    find_binaries,
    start,
    start_sync,
)

__all__ = [
    "DEFAULT_KUBERNETES_VERSION",
    "BinariesNotFoundError",
    "CRDNotEstablishedError",
    "Environment",
    "EnvtestError",
    "EnvtestRequestError",
    "ServerStartError",
    "cache_dir",
    "find_binaries",
    "start",
    "start_sync",
]

publish(globals(), __name__, private="reconcilekit.testing._envtest")
