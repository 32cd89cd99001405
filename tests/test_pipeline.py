"""Pipeline: render fully before applying, status conditions, drift and prune safety (with the fakes)."""

from __future__ import annotations

import pytest

from reconcilekit import (
    Context,
    LoadManifests,
    Pipeline,
    Request,
    Resource,
    ResourceSet,
    Result,
    TemporaryError,
    TerminalError,
    TransformerFunc,
    ValidationError,
)
from reconcilekit.testing import MemorySink, MemorySource, PruneToEmptyError

pytestmark = pytest.mark.anyio

CM = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  k: "{value}"\n'


async def add_team_label(resources: ResourceSet, context: Context) -> ResourceSet:
    def label(r: Resource) -> Resource:
        body = r.to_dict()
        body["metadata"].setdefault("labels", {})["team"] = "core"
        return r.evolve(body)

    return resources.map(label)


def make(files: dict[str, str | bytes], **kw: object) -> tuple[MemorySource, MemorySink, Pipeline]:
    source = MemorySource(files)
    sink = MemorySink()
    pipeline = Pipeline(source, [LoadManifests(), TransformerFunc(add_team_label)], sink, interval=60, **kw)  # type: ignore[arg-type]
    return source, sink, pipeline


async def test_success_applies_and_reports_ready() -> None:
    _source, sink, pipeline = make({"a.yaml": CM.format(name="a", value="1")})
    result = await pipeline.reconcile(Request("demo"))
    assert result == Result(requeue_after=60)
    status = pipeline.status
    assert status.ready
    assert status.last_applied_revision == status.last_attempted_revision
    assert status.last_applied_revision is not None
    assert status.last_applied_revision.startswith("memory@sha256:")
    assert status.last_report is not None
    assert len(status.last_report.created) == 1
    live = next(iter(sink.objects.values()))
    assert live.labels == {"team": "core"}
    ready = status.condition("Ready")
    assert ready is not None
    assert ready.reason == "ReconciliationSucceeded"
    assert "Applied revision" in ready.message
    # a second run with nothing changed reports unchanged and keeps the Ready transition time
    await pipeline.reconcile(Request("demo"))
    assert pipeline.status.last_report is not None
    assert len(pipeline.status.last_report.unchanged) == 1
    again = pipeline.status.condition("Ready")
    assert again is not None
    assert again.last_transition_time == ready.last_transition_time


async def test_build_error_never_reaches_the_sink_and_keeps_last_good_state() -> None:
    source, sink, pipeline = make({"a.yaml": CM.format(name="a", value="1")})
    await pipeline.reconcile(Request("demo"))
    good = dict(sink.objects)
    source.set_files({"a.yaml": CM.format(name="a", value="2"), "broken.yaml": "kind: [\n"})
    with pytest.raises(ValidationError, match=r"broken\.yaml"):
        await pipeline.reconcile(Request("demo"))
    assert len(sink.applied_sets) == 1  # the sink was not called for the broken revision
    assert sink.objects == good
    status = pipeline.status
    assert not status.ready
    stalled = status.condition("Stalled")
    assert stalled is not None
    assert stalled.reason == "BuildFailed"
    assert status.last_attempted_revision != status.last_applied_revision


async def test_fetch_error_is_retryable_and_reported() -> None:
    source, sink, pipeline = make({"a.yaml": CM.format(name="a", value="1")})
    source.fail_with(TemporaryError("git daemon at 127.0.0.1:1 unreachable"))
    with pytest.raises(TemporaryError):
        await pipeline.reconcile(Request("demo"))
    ready = pipeline.status.condition("Ready")
    assert ready is not None
    assert ready.status == "False"
    assert ready.reason == "ArtifactFailed"
    reconciling = pipeline.status.condition("Reconciling")
    assert reconciling is not None
    assert reconciling.reason == "ProgressingWithRetry"
    assert pipeline.status.condition("Stalled") is None
    assert sink.applied_sets == []


async def test_apply_error_is_reported() -> None:
    _source, sink, pipeline = make({"a.yaml": CM.format(name="a", value="1")})
    sink.fail_next(TerminalError("admission webhook denied ConfigMap/a"))
    with pytest.raises(TerminalError):
        await pipeline.reconcile(Request("demo"))
    stalled = pipeline.status.condition("Stalled")
    assert stalled is not None
    assert stalled.reason == "ApplyFailed"


async def test_drift_is_reported_and_reverted_or_only_reported() -> None:
    for correct in (True, False):
        source = MemorySource({"a.yaml": CM.format(name="a", value="1")})
        sink = MemorySink(correct_drift=correct)
        pipeline = Pipeline(source, [LoadManifests()], sink)
        await pipeline.reconcile(Request("x"))
        (ref, live) = next(iter(sink.objects.items()))
        body = live.to_dict()
        body["data"]["k"] = "hand-edited"
        sink.edit(live.evolve(body))
        await pipeline.reconcile(Request("x"))
        report = pipeline.status.last_report
        assert report is not None
        assert report.drifted == (ref,)
        assert sink.objects[ref].body["data"]["k"] == ("1" if correct else "hand-edited")


async def test_prune_removes_stale_objects_but_never_to_empty_unless_allowed() -> None:
    source = MemorySource(
        {"a.yaml": CM.format(name="a", value="1"), "b.yaml": CM.format(name="b", value="1")}
    )
    sink = MemorySink()
    pipeline = Pipeline(source, [LoadManifests()], sink)
    await pipeline.reconcile(Request("x"))
    source.set_files({"a.yaml": CM.format(name="a", value="1")})
    await pipeline.reconcile(Request("x"))
    assert [r.name for r in sink.objects.values()] == ["a"]
    assert pipeline.status.last_report is not None
    assert [r.name for r in pipeline.status.last_report.pruned] == ["b"]
    source.set_files({})
    with pytest.raises(PruneToEmptyError):
        await pipeline.reconcile(Request("x"))
    assert [r.name for r in sink.objects.values()] == ["a"]
    sink.allow_empty = True
    await pipeline.reconcile(Request("x"))
    assert sink.objects == {}


async def test_dry_run_changes_nothing() -> None:
    source = MemorySource({"a.yaml": CM.format(name="a", value="1")})
    sink = MemorySink()
    pipeline = Pipeline(source, [LoadManifests()], sink, dry_run=True)
    await pipeline.reconcile(Request("x"))
    assert sink.objects == {}
    assert pipeline.status.last_report is not None
    assert len(pipeline.status.last_report.created) == 1


async def test_render_does_not_apply() -> None:
    _source, sink, pipeline = make({"a.yaml": CM.format(name="a", value="1")})
    artifact, rendered = await pipeline.render()
    assert [r.name for r in rendered] == ["a"]
    assert artifact.digest.startswith("sha256:")
    assert sink.applied_sets == []
