"""Pipeline: a Reconciler composed in code - Source.fetch → Transformers → Sink.apply.

The pipeline renders fully before it applies: if fetching or any transformer fails, the sink is not called,
so a broken commit never half-applies. Every run records status the way Flux does - conditions
``Ready``/``Reconciling``/``Stalled`` (kstatus), the last applied and last attempted revision - and returns
``Result(requeue_after=interval)`` so a controller polls the source again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from ._errors import InvalidArgumentError, ReconcileKitError, TerminalError
from ._model import ApplyReport, Artifact, Condition, Context, Request, ResourceSet, Result
from ._protocols import Sink, Source, Transformer

__all__ = ["Pipeline", "PipelineStatus"]

_log = logging.getLogger("reconcilekit.pipeline")


@attrs.frozen
class PipelineStatus:
    """A snapshot of what a :class:`Pipeline` last did, in Flux's terms.

    Attributes:
        conditions: ``Ready``, ``Reconciling`` and ``Stalled`` as they stand (kstatus).
        last_applied_revision: revision of the last artifact applied successfully.
        last_attempted_revision: revision of the last artifact a run started with.
        last_report: the sink's report of the last successful apply.
        artifact: the last artifact fetched successfully.
    """

    conditions: tuple[Condition, ...] = ()
    last_applied_revision: str | None = None
    last_attempted_revision: str | None = None
    last_report: ApplyReport | None = None
    artifact: Artifact | None = None

    def condition(self, type_: str) -> Condition | None:
        """The condition of ``type_`` (e.g. ``"Ready"``), or ``None``."""
        return next((c for c in self.conditions if c.type == type_), None)

    @property
    def ready(self) -> bool:
        """True when the ``Ready`` condition is ``"True"``."""
        c = self.condition("Ready")
        return c is not None and c.status == "True"


class Pipeline:
    """A :class:`~reconcilekit.Reconciler` that fetches, renders and applies desired state.

    Args:
        source: where desired state comes from.
        transformers: applied in order; the first receives an empty :class:`~reconcilekit.ResourceSet` and
            the artifact in ``context.artifact``.
        sink: where the rendered resources go.
        name: for logs and errors.
        interval: seconds until the next run after a success (the poll interval); ``None``: wait for events.
        dry_run: passed to the sink through the context.
        values: extra values put in every run's context.
        on_status: called with the new :class:`PipelineStatus` after each run.

    Example::

        pipeline = Pipeline(GitSource(url, branch="main"), [Kustomize("deploy/prod")], sink, interval=60)
        async with Controller(pipeline) as ctl:
            ctl.enqueue("prod")
    """

    def __init__(
        self,
        source: Source,
        transformers: Iterable[Transformer] = (),
        sink: Sink | None = None,
        *,
        name: str = "pipeline",
        interval: float | None = 60.0,
        dry_run: bool = False,
        values: Mapping[str, Any] | None = None,
        on_status: Callable[[PipelineStatus], None] | None = None,
    ) -> None:
        if sink is None:
            raise InvalidArgumentError(f"{name}: a Pipeline needs a sink")
        if interval is not None and not interval > 0:
            raise InvalidArgumentError(f"{name}: interval must be > 0 or None, got {interval!r}")
        self.source = source
        self.transformers: Sequence[Transformer] = tuple(transformers)
        self.sink = sink
        self.name = name
        self.interval = interval
        self.dry_run = dry_run
        self.values = dict(values or {})
        self._on_status = on_status
        self._status = PipelineStatus()
        self._generation = 0

    @property
    def status(self) -> PipelineStatus:
        """The status after the last run."""
        return self._status

    async def render(self) -> tuple[Artifact, ResourceSet]:
        """Fetch and transform without applying; returns the artifact and the rendered set."""
        artifact = await self.source.fetch()
        return artifact, await self._transform(artifact)

    async def _transform(self, artifact: Artifact) -> ResourceSet:
        context = self._context(artifact)
        resources = ResourceSet()
        for transformer in self.transformers:
            resources = await transformer.transform(resources, context)
            if not isinstance(resources, ResourceSet):
                raise TypeError(
                    f"{self.name}: transformer {transformer!r} returned {type(resources).__name__}"
                )
        return resources

    async def reconcile(self, request: Request) -> Result:
        """Fetch → transform → apply once; update :attr:`status`; raise on failure (the sink untouched)."""
        self._generation += 1
        # Keep Ready as it was while the run is in progress (its transition time must survive a run that
        # ends the same way); mark Reconciling.
        in_progress = Condition(
            "Reconciling", "True", "Progressing", "reconciliation in progress", self._generation
        )
        self._set(conditions=[c for c in self._status.conditions if c.type == "Ready"] + [in_progress])
        stage = "fetch"
        try:
            artifact = await self.source.fetch()
            self._set(last_attempted_revision=artifact.revision, artifact=artifact)
            stage = "build"
            resources = await self._transform(artifact)
            stage = "apply"
            report = await self.sink.apply(resources, self._context(artifact))
        except Exception as exc:
            self._failed(stage, exc)
            raise
        message = f"Applied revision: {artifact.revision} ({report.summary()})"
        self._set(
            conditions=[Condition("Ready", "True", "ReconciliationSucceeded", message, self._generation)],
            last_applied_revision=artifact.revision,
            last_report=report,
        )
        _log.info("%s: %s", self.name, message, extra={"pipeline": self.name, "revision": artifact.revision})
        return Result(requeue_after=self.interval)

    def _context(self, artifact: Artifact) -> Context:
        return Context(
            artifact=artifact, revision=artifact.revision, dry_run=self.dry_run, values=self.values
        )

    def _failed(self, stage: str, exc: BaseException) -> None:
        reason = {"fetch": "ArtifactFailed", "build": "BuildFailed", "apply": "ApplyFailed"}[stage]
        message = str(exc) if isinstance(exc, ReconcileKitError) else f"{type(exc).__name__}: {exc}"
        conditions = [Condition("Ready", "False", reason, message, self._generation)]
        if isinstance(exc, TerminalError):
            # kstatus: Stalled means "will not progress without a change of input".
            conditions.append(Condition("Stalled", "True", reason, message, self._generation))
        else:
            conditions.append(
                Condition("Reconciling", "True", "ProgressingWithRetry", message, self._generation)
            )
        self._set(conditions=conditions)

    def _set(self, *, conditions: Iterable[Condition] | None = None, **changes: Any) -> None:
        if conditions is not None:
            previous = {c.type: c for c in self._status.conditions}
            new = [c.with_transition_from(previous.get(c.type)) for c in conditions]
            changes["conditions"] = tuple(new)
        self._status = attrs.evolve(self._status, **changes)
        if self._on_status is not None:
            self._on_status(self._status)
