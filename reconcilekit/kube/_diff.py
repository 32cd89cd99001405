"""Comparisons the KubernetesSink makes: would an apply change the live object, did the desired body change,
is an object ready.

An apply is skipped when its server-side dry run returns what is already live (as Flux's ssa package does),
ignoring what the server changes on every write (``resourceVersion``, ``managedFields`` timestamps...) and
``status``. None of these helpers ever returns or logs field values, so Secrets stay out of messages.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["body_digest", "is_immutable_error", "is_ready", "same_state"]

_VOLATILE_META = frozenset(
    {"managedFields", "resourceVersion", "generation", "creationTimestamp", "uid", "selfLink"}
)
# Phrases of the API server's 422 answers for a change that needs the object to be recreated.
_IMMUTABLE_PHRASES = ("field is immutable", "cannot change roleref", "may not change once set")


def _normalized(obj: Mapping[str, Any], field_manager: str) -> dict[str, Any]:
    out = {k: v for k, v in obj.items() if k != "status"}
    md = dict(obj.get("metadata") or {})
    mine = [
        e.get("fieldsV1")
        for e in md.get("managedFields") or []
        if e.get("manager") == field_manager and e.get("operation") == "Apply" and not e.get("subresource")
    ]
    for key in _VOLATILE_META:
        md.pop(key, None)
    out["metadata"] = md
    # The fields this manager owns count too: dropping a field another manager also sets changes ownership
    # only, and that must still be applied or the field would stay owned forever.
    out["\x00mine"] = mine
    return out


def same_state(dry_run: Mapping[str, Any], live: Mapping[str, Any], field_manager: str) -> bool:
    """Whether a dry-run apply result equals the live object, apart from server bookkeeping and status."""
    return _normalized(dry_run, field_manager) == _normalized(live, field_manager)


def body_digest(body: Mapping[str, Any], salt: str = "", key: str | None = None) -> str:
    """Digest of a desired body (canonical JSON); with ``key``, an HMAC, so a stored digest of a Secret
    cannot be checked against guessed values by whoever can read the inventory but not the Secret."""
    data = (salt + "\n" + json.dumps(body, sort_keys=True, separators=(",", ":"))).encode()
    if key is not None:
        return "hmac-sha256:" + hmac.new(key.encode(), data, hashlib.sha256).hexdigest()
    return "sha256:" + hashlib.sha256(data).hexdigest()


def is_immutable_error(detail: str) -> bool:
    """Whether a 422 answer says the change needs the object deleted and created again."""
    low = detail.lower()
    return any(p in low for p in _IMMUTABLE_PHRASES)


def _condition(status: Mapping[str, Any], type_: str) -> str | None:
    for cond in status.get("conditions") or []:
        if isinstance(cond, Mapping) and cond.get("type") == type_:
            return str(cond.get("status"))
    return None


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) else default


def is_ready(obj: Mapping[str, Any]) -> bool:
    """kstatus basics: is ``obj`` reconciled by its controller and ready?

    Workloads (Deployment, StatefulSet, DaemonSet, ReplicaSet) need a status observing the current
    generation and all replicas updated and available; CustomResourceDefinitions need ``Established``;
    anything else is ready unless its status says otherwise (an older ``observedGeneration``, or a ``Ready``
    condition that is not ``True``), as kstatus treats kinds without status as current.
    """
    kind = str(obj.get("kind", ""))
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    md = obj.get("metadata") or {}
    status = obj.get("status")
    if md.get("deletionTimestamp"):
        return False
    status = status if isinstance(status, Mapping) else {}
    generation = md.get("generation")
    observed = status.get("observedGeneration")
    if observed is not None and generation is not None and observed != generation:
        return False
    spec = obj.get("spec") or {}
    if group == "apps" and kind in ("Deployment", "StatefulSet", "ReplicaSet", "DaemonSet"):
        if observed is None:
            return False
        if kind == "DaemonSet":
            desired = _int(status.get("desiredNumberScheduled"))
            return (
                _int(status.get("updatedNumberScheduled")) >= desired
                and _int(status.get("numberAvailable")) >= desired
            )
        replicas = _int(spec.get("replicas"), 1)
        updated = status.get("updatedReplicas", replicas if kind == "ReplicaSet" else 0)
        ready_key = "availableReplicas" if kind != "StatefulSet" else "readyReplicas"
        return _int(updated) >= replicas and _int(status.get(ready_key)) >= replicas
    if group == "apiextensions.k8s.io" and kind == "CustomResourceDefinition":
        return _condition(status, "Established") == "True"
    ready = _condition(status, "Ready")
    return ready is None or ready == "True"
