"""Watch with resume and re-list: shared by every Cluster implementation.

An implementation supplies two primitives - ``open_stream(resource_version)``, one server watch stream that
raises :class:`GoneError` when the version is too old, and ``relist()``, a consistent list - and this module
turns them into the endless, gap-free event stream :meth:`Cluster.watch` promises (client-go's reflector does
the same job: resume from the last version, list again on 410 Gone and reconcile what it knew).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from typing import Any

import anyio

from ._errors import GoneError
from ._types import ObjectList, WatchEvent

__all__ = ["relisting_watch"]

StreamOpener = Callable[[str | None], AsyncGenerator[WatchEvent, None]]


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    md = obj.get("metadata") or {}
    return str(md.get("namespace") or ""), str(md.get("name") or "")


def _rv(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


async def relisting_watch(
    open_stream: StreamOpener,
    relist: Callable[[], Awaitable[ObjectList]],
    *,
    resource_version: str | None,
    allow_bookmarks: bool,
    closed: Callable[[], bool] = lambda: False,
) -> AsyncGenerator[WatchEvent, None]:
    """Yield events from successive streams until ``closed()``, re-listing when the server says 410 Gone."""
    # Last state of every object seen, so a re-list can tell what was added, changed or deleted meanwhile,
    # and a reconnect without a version (whose synthetic ADDED events repeat) does not repeat events.
    known: dict[tuple[str, str], dict[str, Any]] = {}
    rv = resource_version
    # Without a version, start as client-go's reflector does: list, then watch from the list's version. The
    # server could send the initial state itself, but some (kube-apiserver on etcd < 3.5) refuse that.
    need_list = rv is None
    quiet = 0
    while not closed():
        if need_list:
            need_list = False
            listed = await relist()
            seen: set[tuple[str, str]] = set()
            for obj in listed.items:
                key = _key(obj)
                seen.add(key)
                previous = known.get(key)
                if previous is not None and _rv(previous) == _rv(obj):
                    continue
                known[key] = obj
                yield WatchEvent("ADDED" if previous is None else "MODIFIED", obj)
            for key in [k for k in known if k not in seen]:
                yield WatchEvent("DELETED", known.pop(key))
            rv = listed.resource_version
            continue
        delivered = False
        try:
            async with aclosing(open_stream(rv)) as stream:
                async for event in stream:
                    delivered = True
                    if event.type == "BOOKMARK":
                        rv = event.resource_version or rv
                        if allow_bookmarks:
                            yield event
                        continue
                    key = _key(event.object)
                    rv = event.resource_version or rv
                    if event.type == "DELETED":
                        known.pop(key, None)
                        yield event
                        continue
                    previous = known.get(key)
                    if previous is not None and _rv(previous) == event.resource_version:
                        continue
                    known[key] = event.object
                    if previous is not None and event.type == "ADDED":
                        yield WatchEvent("MODIFIED", event.object)
                    else:
                        yield event
        except GoneError:
            # The version was compacted away: list again and report what changed meanwhile.
            need_list = True
            continue
        # The server ended the stream (its timeout, or a dropped connection): resume from ``rv``. A server
        # that keeps closing streams at once must not make this a busy loop, so empty streams back off.
        quiet = 0 if delivered else quiet + 1
        if quiet:
            await anyio.sleep(min(0.05 * 2**quiet, 5.0))
