"""In-memory Source and Sink fakes for users' fast unit tests.

They implement the same protocols as the real parts and keep Flux-like semantics where tests rely on them
(created/configured/unchanged, drift, prune safety), but they are fakes: no Git, no API server, no server-side
apply field ownership. Test real behaviour with :mod:`reconcilekit.testing.envtest` and the Git fixtures.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import weakref
from collections.abc import Mapping
from pathlib import Path

from .._errors import PruneToEmptyError
from .._model import ApplyReport, Artifact, Context, ObjectRef, Resource, ResourceSet

__all__ = ["MemorySink", "MemorySource"]


class MemorySource:
    """A :class:`~reconcilekit.Source` serving files held in memory, each set of files a new revision.

    Files are written to a private snapshot directory per revision (so loaders read real files); equal
    content gives an equal revision and digest.

    Example::

        source = MemorySource({"app.yaml": "apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: app}\\n"})
        artifact = await source.fetch()
    """

    def __init__(
        self, files: Mapping[str, str | bytes] | None = None, *, revision: str | None = None
    ) -> None:
        self._root = Path(tempfile.mkdtemp(prefix="reconcilekit-memsrc-"))
        self._finalizer = weakref.finalize(self, shutil.rmtree, self._root, ignore_errors=True)
        self._artifact: Artifact | None = None
        self._error: BaseException | None = None
        self.fetches = 0
        self.set_files(files or {}, revision=revision)

    def set_files(self, files: Mapping[str, str | bytes], *, revision: str | None = None) -> Artifact:
        """Replace the content; returns the new artifact."""
        blobs = {name: data.encode() if isinstance(data, str) else data for name, data in files.items()}
        h = hashlib.sha256()
        for name in sorted(blobs):
            h.update(name.encode() + b"\0" + hashlib.sha256(blobs[name]).digest())
        digest = f"sha256:{h.hexdigest()}"
        snapshot = self._root / digest.removeprefix("sha256:")[:16]
        if not snapshot.exists():
            for name, data in blobs.items():
                target = (snapshot / name).resolve()
                if not target.is_relative_to(snapshot.resolve()):
                    raise ValueError(f"MemorySource file name {name!r} leaves the snapshot")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            snapshot.mkdir(parents=True, exist_ok=True)
        self._artifact = Artifact(revision or f"memory@{digest}", digest, snapshot)
        return self._artifact

    def fail_with(self, error: BaseException | None) -> None:
        """Make every fetch raise ``error`` until called again with ``None`` (the artifact is kept)."""
        self._error = error

    async def fetch(self) -> Artifact:
        """Return the current artifact, or raise the error set by :meth:`fail_with`."""
        self.fetches += 1
        if self._error is not None:
            raise self._error
        assert self._artifact is not None
        return self._artifact

    def close(self) -> None:
        """Remove the snapshots."""
        self._finalizer()


class MemorySink:
    """A :class:`~reconcilekit.Sink` keeping objects in a dict, with Flux-like reporting.

    * ``created`` / ``configured`` / ``unchanged`` by comparing bodies;
    * ``drifted``: objects whose live body differs from what this sink last applied (see :meth:`edit`);
      with ``correct_drift=False`` drift is only reported, not reverted;
    * ``prune``: objects applied before and absent now are deleted, except when the desired set is empty
      and ``allow_empty`` is false (:class:`PruneToEmptyError`);
    * ``context.dry_run``: the report is computed, nothing changes.

    reconcilekit's own suite runs one scenario through this sink and through
    :class:`reconcilekit.kube.KubernetesSink` (on FakeCluster and on a real API server) and checks that the
    reports agree. Not modelled: defaulting, server-side apply field ownership, validation, namespaces
    existing, the inventory living in the cluster.
    """

    def __init__(
        self,
        *,
        prune: bool = True,
        allow_empty: bool = False,
        correct_drift: bool = True,
        name: str = "memory",
    ) -> None:
        self.prune = prune
        self.allow_empty = allow_empty
        self.correct_drift = correct_drift
        self.name = name
        #: Live objects by identity.
        self.objects: dict[ObjectRef, Resource] = {}
        #: Every desired set passed to :meth:`apply`, in order.
        self.applied_sets: list[ResourceSet] = []
        self._last_applied: dict[ObjectRef, Resource] = {}
        self._fail_next: list[BaseException] = []

    def edit(self, resource: Resource) -> None:
        """Change a live object behind the sink's back (a hand edit, i.e. drift)."""
        self.objects[resource.ref] = resource

    def delete(self, ref: ObjectRef) -> None:
        """Delete a live object behind the sink's back."""
        self.objects.pop(ref, None)

    def fail_next(self, error: BaseException) -> None:
        """Make the next :meth:`apply` raise ``error`` before changing anything."""
        self._fail_next.append(error)

    async def apply(self, resources: ResourceSet, context: Context) -> ApplyReport:
        """Apply ``resources``; see the class docstring for the semantics."""
        if self._fail_next:
            raise self._fail_next.pop(0)
        self.applied_sets.append(resources)
        inventory = set(self._last_applied)
        stale = [ref for ref in self._last_applied if ref not in resources] if self.prune else []
        if self.prune and not resources and inventory and not self.allow_empty:
            raise PruneToEmptyError(f"MemorySink {self.name}", len(inventory))
        created, configured, unchanged, drifted = [], [], [], []
        writes: dict[ObjectRef, Resource] = {}
        for res in resources:
            live = self.objects.get(res.ref)
            last = self._last_applied.get(res.ref)
            if live is None:
                created.append(res.ref)
                writes[res.ref] = res
                continue
            if last is not None and live != last:
                drifted.append(res.ref)
                if not self.correct_drift and last == res:
                    unchanged.append(res.ref)  # detect-only: report the drift, leave the hand edit
                    continue
            if live == res:
                unchanged.append(res.ref)
            else:
                configured.append(res.ref)
                writes[res.ref] = res
        report = ApplyReport(created, configured, unchanged, stale, drifted)
        if not context.dry_run:
            self.objects.update(writes)
            for ref in stale:
                self.objects.pop(ref, None)
            self._last_applied = {r.ref: r for r in resources}
        return report
