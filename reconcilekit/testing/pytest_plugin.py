"""pytest plugin (entry point ``reconcilekit``): shared fixtures for reconcilekit and its users.

Fixtures that start real servers (envtest, git daemon, registry...) live in their own ``_fixtures_*``
modules and are listed in ``pytest_plugins`` below, so each stays next to the harness it uses.
"""

from __future__ import annotations

pytest_plugins: list[str] = [
    "reconcilekit.testing._fixtures_envtest",
    "reconcilekit.testing._fixtures_git",
    "reconcilekit.testing._fixtures_registry",
    "reconcilekit.testing._fixtures_kube",
]
