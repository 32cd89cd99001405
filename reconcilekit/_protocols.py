"""The contracts between the parts of a reconciler, each a Protocol with one async method.

``Source.fetch`` → :class:`~reconcilekit.Artifact` → ``Transformer.transform`` (any number) →
``Sink.apply`` → :class:`~reconcilekit.ApplyReport`. A :class:`Reconciler` is what the
:class:`~reconcilekit.Controller` drives; :class:`~reconcilekit.Pipeline` is one composed from the
other three.

Plain async functions fit through the ``*Func`` adapters, as controller-runtime's ``reconcile.Func``::

    async def add_label(resources, context): ...
    pipeline = Pipeline(source, [TransformerFunc(add_label)], sink)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

import attrs

from ._model import ApplyReport, Artifact, Context, Request, ResourceSet, Result

__all__ = [
    "Reconciler",
    "ReconcilerFunc",
    "Sink",
    "SinkFunc",
    "Source",
    "SourceFunc",
    "Transformer",
    "TransformerFunc",
]


@runtime_checkable
class Source(Protocol):
    """Fetches desired state as an immutable :class:`~reconcilekit.Artifact`.

    A source returns the same artifact (same revision and digest) while nothing changed, and keeps its last
    good artifact when a fetch fails, raising a :class:`~reconcilekit.TemporaryError` or
    :class:`~reconcilekit.TerminalError` that names what failed.
    """

    async def fetch(self) -> Artifact:
        """Return the current artifact."""
        ...


@runtime_checkable
class Transformer(Protocol):
    """Turns one :class:`~reconcilekit.ResourceSet` into another; pure with respect to the target.

    A transformer for the first stage of a pipeline receives an empty set and reads the artifact from
    ``context.artifact`` (that is how a loader such as ``Kustomize(path)`` works).
    """

    async def transform(self, resources: ResourceSet, context: Context) -> ResourceSet:
        """Return the transformed set; raise to stop the run before anything is applied."""
        ...


@runtime_checkable
class Sink(Protocol):
    """Drives a target (a cluster, a directory, ...) to hold the given resources."""

    async def apply(self, resources: ResourceSet, context: Context) -> ApplyReport:
        """Apply ``resources``; return what changed."""
        ...


@runtime_checkable
class Reconciler(Protocol):
    """Makes the actual state for one key match its desired state; driven by a Controller."""

    async def reconcile(self, request: Request) -> Result:
        """Reconcile ``request.key``; return when to run again, or raise."""
        ...


@attrs.frozen
class SourceFunc:
    """Adapts ``async def fetch() -> Artifact`` to :class:`Source`."""

    func: Callable[[], Awaitable[Artifact]]

    async def fetch(self) -> Artifact:
        """Call the wrapped function."""
        return await self.func()


@attrs.frozen
class TransformerFunc:
    """Adapts ``async def transform(resources, context) -> ResourceSet`` to :class:`Transformer`."""

    func: Callable[[ResourceSet, Context], Awaitable[ResourceSet]]

    async def transform(self, resources: ResourceSet, context: Context) -> ResourceSet:
        """Call the wrapped function."""
        return await self.func(resources, context)


@attrs.frozen
class SinkFunc:
    """Adapts ``async def apply(resources, context) -> ApplyReport`` to :class:`Sink`."""

    func: Callable[[ResourceSet, Context], Awaitable[ApplyReport]]

    async def apply(self, resources: ResourceSet, context: Context) -> ApplyReport:
        """Call the wrapped function."""
        return await self.func(resources, context)


@attrs.frozen
class ReconcilerFunc:
    """Adapts ``async def reconcile(request) -> Result`` to :class:`Reconciler`."""

    func: Callable[[Request], Awaitable[Result | None]]

    async def reconcile(self, request: Request) -> Result:
        """Call the wrapped function; a ``None`` return means ``Result()``."""
        result = await self.func(request)
        return Result() if result is None else result


# Static proof that the adapters conform (checked by mypy).
_source: type[Source] = SourceFunc
_transformer: type[Transformer] = TransformerFunc
_sink: type[Sink] = SinkFunc
_reconciler: type[Reconciler] = ReconcilerFunc
