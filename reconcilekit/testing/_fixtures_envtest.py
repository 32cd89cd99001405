"""pytest fixtures for the real-API-server harness (:mod:`reconcilekit.testing.envtest`).

* ``envtest_server`` (session scope): one etcd + kube-apiserver for the whole test session; yields the
  :class:`~reconcilekit.testing.envtest.Environment` (``.kubeconfig``, ``.server``, ``.install_crds()``...).
* ``envtest_namespace`` (function scope): a fresh, uniquely named namespace on that server; yields its name
  and deletes it afterwards.

Tests that use either are marked ``envtest`` automatically, so ``-m "not envtest"`` deselects them.

Missing binaries: outside CI the tests are skipped with the reason (how to build the binaries); in CI
(``CI=true``) they FAIL, so real-server tests never disappear silently from a CI run. A server that is found
but does not start always fails.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from . import envtest
from ._servers import unavailable

__all__ = ["envtest_namespace", "envtest_server"]


@pytest.fixture(scope="session")
def envtest_server() -> Iterator[envtest.Environment]:
    """A running etcd + kube-apiserver shared by the whole session (:mod:`reconcilekit.testing.envtest`)."""
    try:
        env = envtest.Environment()
        env.start()
    except envtest.BinariesNotFoundError as err:
        unavailable(f"the envtest binaries are missing: {err}")
    try:
        yield env
    finally:
        env.stop()


@pytest.fixture
def envtest_namespace(envtest_server: envtest.Environment) -> Iterator[str]:
    """A fresh namespace on ``envtest_server``; yields its name and deletes it after the test."""
    name = envtest_server.create_namespace()
    try:
        yield name
    finally:
        envtest_server.delete_namespace(name)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the envtest fixtures with ``envtest``."""
    for item in items:
        if "envtest_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.envtest)
