"""The watch loop shared by every Cluster (reconcilekit.kube._watch): resume, re-list on 410, de-duplication.

Driven by scripted streams, because the interesting cases (a 410 in the middle of a watch that has already
seen objects, a server closing the stream) cannot be timed reliably against a server.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

import anyio
import pytest

from reconcilekit.kube import GoneError, ObjectList, WatchEvent
from reconcilekit.kube._watch import relisting_watch

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Plain async generators: runs on both backends."""
    backend: str = request.param
    return backend


def obj(name: str, rv: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "resourceVersion": str(rv)}}


class Script:
    """Streams to hand out in order (a list of events, optionally ending in 410), and lists to answer."""

    def __init__(self, streams: list[list[WatchEvent | str]], lists: list[ObjectList]) -> None:
        self.streams = streams
        self.lists = lists
        self.opened: list[str | None] = []
        self.listed = 0

    async def open(self, rv: str | None) -> AsyncGenerator[WatchEvent, None]:
        self.opened.append(rv)
        if not self.streams:
            raise AssertionError("no more scripted streams")
        for item in self.streams.pop(0):
            if item == "GONE":
                raise GoneError("watch", "ConfigMap (v1) in all namespaces")
            assert isinstance(item, WatchEvent)
            yield item

    async def relist(self) -> ObjectList:
        self.listed += 1
        return self.lists.pop(0)


async def run(script: Script, count: int, **kw: Any) -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    async with aclosing(relisting_watch(script.open, script.relist, **kw)) as events:
        async for e in events:
            out.append((e.type, e.name, e.resource_version))
            if len(out) == count:
                break
    return out


async def test_relist_after_gone_reports_changes_and_deletions() -> None:
    script = Script(
        streams=[
            [WatchEvent("ADDED", obj("a", 5)), WatchEvent("ADDED", obj("b", 6)), "GONE"],
            [WatchEvent("ADDED", obj("d", 11))],
        ],
        lists=[ObjectList([obj("a", 5), obj("b", 9), obj("c", 8)], "10")],
    )
    got = await run(script, 5, resource_version="4", allow_bookmarks=False)
    assert got == [
        ("ADDED", "a", "5"),
        ("ADDED", "b", "6"),
        ("MODIFIED", "b", "9"),  # changed while the watch was broken
        ("ADDED", "c", "8"),  # created meanwhile; a is unchanged and not repeated
        ("ADDED", "d", "11"),
    ]
    assert script.listed == 1
    assert script.opened == ["4", "10"]


async def test_objects_deleted_during_the_gap_are_reported_deleted() -> None:
    script = Script(
        streams=[[WatchEvent("ADDED", obj("a", 5)), WatchEvent("ADDED", obj("b", 6)), "GONE"], []],
        lists=[ObjectList([obj("b", 6)], "10")],
    )
    got = await run(script, 3, resource_version="4", allow_bookmarks=False)
    assert got == [("ADDED", "a", "5"), ("ADDED", "b", "6"), ("DELETED", "a", "5")]


async def test_without_a_version_it_lists_first_then_watches_from_the_list() -> None:
    script = Script(streams=[[WatchEvent("MODIFIED", obj("a", 12))]], lists=[ObjectList([obj("a", 3)], "10")])
    got = await run(script, 2, resource_version=None, allow_bookmarks=False)
    assert got == [("ADDED", "a", "3"), ("MODIFIED", "a", "12")]
    assert script.opened == ["10"]


async def test_resumes_from_the_last_version_and_drops_repeats() -> None:
    script = Script(
        streams=[
            [
                WatchEvent("ADDED", obj("a", 5)),
                WatchEvent("BOOKMARK", {"metadata": {"resourceVersion": "7"}}),
            ],
            # A server may repeat an event around a reconnect; the same version is not delivered twice, and
            # a repeated ADDED for a known object with a new version is a MODIFIED.
            [WatchEvent("ADDED", obj("a", 5)), WatchEvent("ADDED", obj("a", 8))],
        ],
        lists=[],
    )
    got = await run(script, 2, resource_version="4", allow_bookmarks=False)
    assert got == [("ADDED", "a", "5"), ("MODIFIED", "a", "8")]
    assert script.opened == ["4", "7"]  # resumed from the bookmark


async def test_bookmarks_are_delivered_when_asked() -> None:
    script = Script(
        streams=[
            [WatchEvent("BOOKMARK", {"metadata": {"resourceVersion": "7"}}), WatchEvent("ADDED", obj("a", 8))]
        ],
        lists=[],
    )
    got = await run(script, 2, resource_version="4", allow_bookmarks=True)
    assert got == [("BOOKMARK", "", "7"), ("ADDED", "a", "8")]


async def test_stops_when_closed() -> None:
    script = Script(streams=[[WatchEvent("ADDED", obj("a", 5))]], lists=[])
    closed = False

    def is_closed() -> bool:
        return closed

    out: list[str] = []
    async with aclosing(
        relisting_watch(
            script.open, script.relist, resource_version="1", allow_bookmarks=False, closed=is_closed
        )
    ) as events:
        async for e in events:
            out.append(e.name)
            closed = True
    assert out == ["a"]
    assert script.opened == ["1"]


async def test_empty_streams_back_off_and_resume_from_the_same_version() -> None:
    script = Script(streams=[[], [], [WatchEvent("ADDED", obj("a", 5))]], lists=[])
    start = anyio.current_time()
    got = await run(script, 1, resource_version="4", allow_bookmarks=False)
    assert got == [("ADDED", "a", "5")]
    assert script.opened == ["4", "4", "4"]
    assert anyio.current_time() - start >= 0.1 + 0.2  # waited between the empty streams
