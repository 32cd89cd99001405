"""reconcilekit: building blocks for GitOps reconcilers.

Desired state is fetched by a :class:`Source` as an immutable :class:`Artifact`, rendered by
:class:`Transformer` s into a :class:`ResourceSet`, and driven into a target by a :class:`Sink`. A
:class:`Pipeline` composes the three into a :class:`Reconciler`, and a :class:`Controller` runs reconcilers
forever from a de-duplicating work queue with backoff, requeues and periodic resync (level-triggered).
"""

from __future__ import annotations

from ._errors import (
    ConfigurationError,
    ReconcileKitError,
    TemporaryError,
    TerminalError,
    ValidationError,
    redact_url,
)
from ._model import (
    ApplyReport,
    Artifact,
    Condition,
    Context,
    DuplicateResourceError,
    InvalidResourceError,
    ObjectRef,
    Request,
    Resource,
    ResourceSet,
    Result,
)
from ._protocols import (
    Reconciler,
    ReconcilerFunc,
    Sink,
    SinkFunc,
    Source,
    SourceFunc,
    Transformer,
    TransformerFunc,
)

__all__ = [
    "ApplyReport",
    "Artifact",
    "Condition",
    "ConfigurationError",
    "Context",
    "DuplicateResourceError",
    "InvalidResourceError",
    "ObjectRef",
    "ReconcileKitError",
    "Reconciler",
    "ReconcilerFunc",
    "Request",
    "Resource",
    "ResourceSet",
    "Result",
    "Sink",
    "SinkFunc",
    "Source",
    "SourceFunc",
    "TemporaryError",
    "TerminalError",
    "Transformer",
    "TransformerFunc",
    "ValidationError",
    "redact_url",
]

# Present the public path in reprs, docs and tracebacks (httpx does the same).
for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("reconcilekit._"):
        try:
            _obj.__module__ = "reconcilekit"
        except (AttributeError, TypeError):  # builtins-like objects refuse; nothing to fix for them
            pass
del _name, _obj
