"""A small level-triggered pipeline from in-memory parts: the default main job of the Quick start.

    python examples/memory_pipeline.py

A MemorySource holds two manifests; the pipeline loads them, stamps a label with a transformer written as a
plain async function, and applies them to a MemorySink, driven by a Controller. The script then makes a hand
edit (drift) and changes the source, and shows each run healing or applying it - the loop compares desired
with actual state every time, so nothing depends on catching the event.
"""

from __future__ import annotations

import logging

import anyio

from reconcilekit import (
    Context,
    Controller,
    LoadManifests,
    Outcome,
    Pipeline,
    Resource,
    ResourceSet,
    TransformerFunc,
)
from reconcilekit.testing import MemorySink, MemorySource

BASE = {
    "app/configmap.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  greeting: hello\n"
    ),
    "app/service.yaml": (
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - port: 80\n"
        "  selector:\n    app: web\n"
    ),
}


async def label_environment(resources: ResourceSet, context: Context) -> ResourceSet:
    """Stamp every object with the environment it belongs to."""

    def stamp(resource: Resource) -> Resource:
        body = resource.to_dict()
        body["metadata"].setdefault("labels", {})["env"] = context.values.get("env", "dev")
        return resource.evolve(body)

    return resources.map(stamp)


async def main() -> None:
    source = MemorySource(BASE)
    sink = MemorySink()
    pipeline = Pipeline(
        source,
        [LoadManifests(), TransformerFunc(label_environment)],
        sink,
        name="demo",
        interval=None,
        values={"env": "staging"},
    )

    def show(outcome: Outcome) -> None:
        status = pipeline.status
        report = status.last_report
        print(f"run {outcome.kind:<8} revision={status.last_attempted_revision}")
        if report is not None:
            print(f"    {report.summary()}")

    ctl = Controller(pipeline, name="demo")
    ctl.subscribe(show)
    async with ctl:
        ctl.enqueue("demo")
        await ctl.wait_idle()

        print("-- someone edits the live ConfigMap by hand (drift)")
        live = next(r for r in sink.objects.values() if r.kind == "ConfigMap")
        edited = live.to_dict()
        edited["data"]["greeting"] = "hacked"
        sink.edit(live.evolve(edited))
        ctl.enqueue("demo")  # a resync or any event would do the same
        await ctl.wait_idle()

        print("-- a new revision drops the Service and changes the greeting")
        source.set_files({"app/configmap.yaml": BASE["app/configmap.yaml"].replace("hello", "bonjour")})
        ctl.enqueue("demo")
        await ctl.wait_idle()

    ready = pipeline.status.condition("Ready")
    assert ready is not None
    print(f"Ready={ready.status} ({ready.reason}): {ready.message}")
    for resource in sink.objects.values():
        print(f"live: {resource.ref} labels={dict(resource.labels)} data={resource.body.get('data')}")
    source.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    anyio.run(main)
