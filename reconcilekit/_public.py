"""Helper for the public ``__init__`` modules: show names under their public module path."""

from __future__ import annotations

import contextlib
from collections.abc import MutableMapping

__all__ = ["publish"]


def publish(namespace: MutableMapping[str, object], module: str, *, private: str | None = None) -> None:
    """Set ``__module__`` to ``module`` on every name in ``namespace["__all__"]`` defined in a private
    module, so reprs, docs and tracebacks show ``reconcilekit.git.GitSource`` rather than
    ``reconcilekit.git._source.GitSource`` (httpx does the same).

    ``private`` is the prefix of the private modules' names (default: ``module`` + ``"._"``).
    """
    private = private or f"{module}._"
    names = namespace.get("__all__", ())
    assert isinstance(names, list | tuple)
    for name in names:
        obj = namespace[name]
        if getattr(obj, "__module__", "").startswith(private):
            # Constants and typing aliases have no settable __module__; there is nothing to fix for them.
            with contextlib.suppress(AttributeError, TypeError):
                obj.__module__ = module
