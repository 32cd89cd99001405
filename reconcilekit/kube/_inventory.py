"""The KubernetesSink's inventory: which objects it applied last, kept in a ConfigMap in the cluster.

Like Flux's ``.status.inventory``, each entry names an object as ``<namespace>_<name>_<group>_<kind>``
plus the API version it was applied at. An entry also records a digest of the desired body last applied and
the ``resourceVersion`` the live object had right after, which is how the sink tells drift (the live object
changed while the desired one did not) from an ordinary change, and skips the server round trip for an object
that nobody touched since.

The inventory lives in one ConfigMap key (``inventory.json``) because entry IDs can be longer than a
ConfigMap key may be; one entry takes ~200 bytes, so the 1 MiB ConfigMap limit allows ~5,000 objects.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from .._errors import TerminalError
from .._model import ObjectRef
from ._types import ObjectKey

__all__ = ["InventoryEntry", "InventoryError", "entry_id", "parse_inventory", "render_inventory"]

INVENTORY_KEY = "inventory.json"
INVENTORY_FORMAT = "reconcilekit.dev/inventory/v1"


class InventoryError(TerminalError):
    """The inventory ConfigMap exists but cannot be read as an inventory (edited by hand, or foreign)."""

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(f"inventory ConfigMap {where}: {reason}")


def entry_id(ref: ObjectRef) -> str:
    """Flux's inventory ID of an object: ``<namespace>_<name>_<group>_<kind>`` (empty parts stay empty)."""
    return f"{ref.namespace or ''}_{ref.name}_{ref.group}_{ref.kind}"


def _ref_from_id(value: str) -> ObjectRef:
    # No part can contain "_": names and namespaces are DNS names, groups DNS subdomains, kinds identifiers.
    parts = value.split("_")
    if len(parts) != 4 or not parts[1] or not parts[3]:
        raise ValueError(f"malformed inventory id {value!r}")
    namespace, name, group, kind = parts
    return ObjectRef(group, kind, namespace or None, name)


@attrs.frozen
class InventoryEntry:
    """One object a :class:`~reconcilekit.kube.KubernetesSink` applied.

    Attributes:
        ref: the object's identity.
        version: the API version (without group) it was applied at, e.g. ``v1``.
        digest: digest of the desired body last applied (``sha256:...``; for Secrets an HMAC keyed by the
            live object's uid, so the inventory reveals nothing about secret values).
        resource_version: the live ``resourceVersion`` right after the sink's last apply (or check).
    """

    ref: ObjectRef
    version: str
    digest: str = ""
    resource_version: str = ""

    @property
    def id(self) -> str:
        """The Flux-style entry ID, ``<namespace>_<name>_<group>_<kind>``."""
        return entry_id(self.ref)

    @property
    def key(self) -> ObjectKey:
        """Where the object lives, at the recorded version."""
        return ObjectKey.from_ref(self.ref, self.version)


def parse_inventory(where: str, data: Mapping[str, Any] | None) -> tuple[InventoryEntry, ...]:
    """Entries from the ConfigMap's ``data`` (empty when there is no inventory yet)."""
    if not data or INVENTORY_KEY not in data:
        return ()
    try:
        doc = json.loads(str(data[INVENTORY_KEY]))
        if not isinstance(doc, dict) or doc.get("format") != INVENTORY_FORMAT:
            raise ValueError(f"not a {INVENTORY_FORMAT} document")
        entries = [
            InventoryEntry(
                _ref_from_id(str(raw["id"])),
                str(raw["v"]),
                str(raw.get("digest", "")),
                str(raw.get("rv", "")),
            )
            for raw in doc.get("entries") or []
        ]
    except (ValueError, KeyError, TypeError) as err:
        # A hand-edited inventory must not be guessed at: pruning from a wrong list deletes the wrong objects.
        raise InventoryError(where, f"{INVENTORY_KEY} is unreadable ({err})") from None
    return tuple(entries)


def render_inventory(entries: Iterable[InventoryEntry]) -> str:
    """The ``inventory.json`` text: one entry per line, in apply order, so diffs of it read well."""
    lines = [
        json.dumps(
            {"id": e.id, "v": e.version, "digest": e.digest, "rv": e.resource_version},
            separators=(",", ":"),
        )
        for e in entries
    ]
    body = ",\n".join(lines)
    return f'{{"format":"{INVENTORY_FORMAT}","entries":[\n{body}\n]}}\n'
