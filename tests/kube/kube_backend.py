"""The two backends of the differential Cluster suite, and what a scenario needs around a cluster."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterable
from typing import Any

import anyio
import anyio.to_thread
import attrs

from reconcilekit.kube import Cluster, KubeCluster, UnknownKindError
from reconcilekit.testing import FakeCluster
from reconcilekit.testing import envtest as envtest_mod

WIDGET_GROUP = "test.reconcilekit.dev"
WIDGET_API = f"{WIDGET_GROUP}/v1"

WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"widgets.{WIDGET_GROUP}"},
    "spec": {
        "group": WIDGET_GROUP,
        "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        },
                    }
                },
            }
        ],
    },
}


@attrs.define
class Backend:
    """The cluster under test and the scenario's surroundings."""

    name: str
    cluster: Cluster
    namespace: str
    env: envtest_mod.Environment | None = None
    _extra: list[KubeCluster] = attrs.field(factory=list)

    @property
    def fake(self) -> bool:
        return self.name == "fake"

    def cm(self, name: str, data: dict[str, str] | None = None, **metadata: Any) -> dict[str, Any]:
        """A ConfigMap in the test namespace."""
        md: dict[str, Any] = {"name": name, "namespace": self.namespace, **metadata}
        obj: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md}
        if data is not None:
            obj["data"] = data
        return obj

    def widget(self, name: str, spec: dict[str, Any] | None = None, **metadata: Any) -> dict[str, Any]:
        """A Widget (custom resource with a status subresource) in the test namespace."""
        md: dict[str, Any] = {"name": name, "namespace": self.namespace, **metadata}
        return {"apiVersion": WIDGET_API, "kind": "Widget", "metadata": md, "spec": spec or {}}

    async def install_widget_crd(self) -> None:
        """Install the Widget CRD and wait until its kind is served."""
        await self.cluster.apply(WIDGET_CRD, field_manager="test-setup", force=True)
        with anyio.fail_after(30):
            while True:
                try:
                    await self.cluster.resource_for(WIDGET_API, "Widget")
                    found = await self.cluster.list(WIDGET_API, "Widget", namespace=self.namespace)
                except UnknownKindError:
                    found = None
                if found is not None:
                    return
                await anyio.sleep(0.1)

    async def as_user(self, user: str) -> Cluster:
        """The same cluster seen by ``user``, who has no permissions until :meth:`grant`."""
        if isinstance(self.cluster, FakeCluster):
            return self.cluster.as_user(user)
        assert self.env is not None
        other = await KubeCluster.from_kubeconfig(self.env.kubeconfig_for(user))
        self._extra.append(other)
        return other

    async def grant(self, user: str, verbs: Iterable[str], api_group: str, plural: str, kind: str) -> None:
        """Let ``user`` use ``verbs`` on a kind in the test namespace (RBAC Role + RoleBinding on envtest)."""
        verbs = list(verbs)
        if isinstance(self.cluster, FakeCluster):
            self.cluster.grant(user, verbs, api_group=api_group, kinds=[kind], namespace=self.namespace)
            return
        name = f"grant-{user}-{plural}"
        role = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": name, "namespace": self.namespace},
            "rules": [{"apiGroups": [api_group], "resources": [plural], "verbs": verbs}],
        }
        binding = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": self.namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
        }
        await self.cluster.apply(role, field_manager="test-setup")
        await self.cluster.apply(binding, field_manager="test-setup")

    async def compact(self) -> None:
        """Make every older resourceVersion unusable for watches (the next watch from one gets 410 Gone).

        FakeCluster forgets its history. On a real server, etcd is compacted to the current revision; the API
        server must run without a watch cache (``--watch-cache=false``, see the ``kc_gone`` fixture), since
        its cache would otherwise keep serving old versions from memory.
        """
        if isinstance(self.cluster, FakeCluster):
            self.cluster.compact()
            return
        assert self.env is not None
        revision = int((await self.cluster.list("v1", "Namespace")).resource_version)
        body = json.dumps({"revision": revision, "physical": True}).encode()
        url = f"{self.env.etcd_url}/v3/kv/compaction"  # the test environment's etcd, on loopback
        request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})  # noqa: S310

        def post() -> None:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - http on loopback
                response.read()

        await anyio.to_thread.run_sync(post)

    async def aclose(self) -> None:
        for other in self._extra:
            await other.aclose()
        await self.cluster.aclose()
