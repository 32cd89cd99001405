"""reconcilekit: building blocks for GitOps reconcilers.

Desired state is fetched by a :class:`Source` as an immutable :class:`Artifact`, rendered by
:class:`Transformer` s into a :class:`ResourceSet`, and driven into a target by a :class:`Sink`. A
:class:`Pipeline` composes the three into a :class:`Reconciler`, and a :class:`Controller` runs reconcilers
forever from a de-duplicating work queue with backoff, requeues and periodic resync (level-triggered).
"""

from __future__ import annotations

from ._engine import (
    Clock,
    Controller,
    ControllerStateError,
    EventStream,
    ExponentialBackoff,
    Interval,
    InvalidKeyError,
    InvalidResultError,
    MaxOfRateLimiter,
    Outcome,
    RateLimiter,
    ReconcileTimeoutError,
    SystemClock,
    TokenBucket,
    Trigger,
    default_rate_limiter,
)
from ._errors import (
    ConfigurationError,
    InvalidArgumentError,
    PruneToEmptyError,
    ReconcileKitError,
    TemporaryError,
    TerminalError,
    ValidationError,
    redact_url,
)
from ._manifests import LoadManifests, PathOutsideRootError
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
from ._pipeline import Pipeline, PipelineStatus
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
from ._public import publish
from ._yaml import YAMLError, YAMLLimitError, load_documents

__all__ = [
    "ApplyReport",
    "Artifact",
    "Clock",
    "Condition",
    "ConfigurationError",
    "Context",
    "Controller",
    "ControllerStateError",
    "DuplicateResourceError",
    "EventStream",
    "ExponentialBackoff",
    "Interval",
    "InvalidArgumentError",
    "InvalidKeyError",
    "InvalidResourceError",
    "InvalidResultError",
    "LoadManifests",
    "MaxOfRateLimiter",
    "ObjectRef",
    "Outcome",
    "PathOutsideRootError",
    "Pipeline",
    "PipelineStatus",
    "PruneToEmptyError",
    "RateLimiter",
    "ReconcileKitError",
    "ReconcileTimeoutError",
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
    "SystemClock",
    "TemporaryError",
    "TerminalError",
    "TokenBucket",
    "Transformer",
    "TransformerFunc",
    "Trigger",
    "ValidationError",
    "YAMLError",
    "YAMLLimitError",
    "default_rate_limiter",
    "load_documents",
    "redact_url",
]

publish(globals(), __name__)
