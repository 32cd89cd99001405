"""Benchmark: KubernetesSink against ``kubectl apply --server-side`` on the same envtest API server.

    python bench/kube_apply.py [--configmaps 500] [--services 200] [--concurrency 8]

Generates ``--configmaps`` ConfigMaps and ``--services`` Services, and applies them side by side in one run:

* KubernetesSink (reconcilekit) into one namespace, through a KubeCluster made before the clock starts;
* ``kubectl apply --server-side -f <file>`` (kubectl on PATH, with the environment's kubeconfig) into another
  namespace; its time includes the process start and kubectl's discovery, as a user sees it.

Each tool does a first apply (everything created) and then a re-apply of the same manifests (nothing
changes). The sink skips the server round trip for objects nobody wrote since its last apply (their
resourceVersion is in its inventory); the third row is a sink without an inventory (another name), which
dry-runs every object to find it unchanged - the cost after every object was touched by someone else.
The sink's numbers include writing its inventory ConfigMap. kubectl applies one object at a time and its
client throttles itself to 50 requests/s; the sink runs ``--concurrency`` requests at once (1 = sequential).
Services are headless (``clusterIP: None``) because envtest's service IP range (/24) cannot hold 2 x 200
cluster IPs.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import yaml

from reconcilekit import Context, ResourceSet
from reconcilekit.kube import KubeCluster, KubernetesSink
from reconcilekit.testing import envtest


def manifests(namespace: str, configmaps: int, services: int) -> list[dict[str, Any]]:
    """``configmaps`` ConfigMaps and ``services`` headless Services in ``namespace``."""
    configmap_objs = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"cm-{i:04d}", "namespace": namespace, "labels": {"app": "bench"}},
            "data": {"index": str(i), "payload": f"value-{i}-" + "x" * 200},
        }
        for i in range(configmaps)
    ]
    service_objs = [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": f"svc-{i:04d}", "namespace": namespace, "labels": {"app": "bench"}},
            "spec": {
                "clusterIP": "None",
                "selector": {"app": f"app-{i}"},
                "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
            },
        }
        for i in range(services)
    ]
    return configmap_objs + service_objs


def kubectl_apply(kubectl: str, kubeconfig: Path, path: Path) -> float:
    """Seconds for one ``kubectl apply --server-side`` of ``path``."""
    started = time.monotonic()
    subprocess.run(
        [
            kubectl,
            "--kubeconfig",
            str(kubeconfig),
            "apply",
            "--server-side",
            "--field-manager=bench",
            "-f",
            str(path),
        ],
        check=True,
        capture_output=True,
    )
    return time.monotonic() - started


async def sink_applies(
    env: envtest.Environment, namespace: str, objs: list[dict[str, Any]], concurrency: int
) -> tuple[float, float, float, str]:
    """Seconds for the sink's first apply, its re-apply and a re-apply without inventory; the reports."""
    cluster = await KubeCluster.from_kubeconfig(env.kubeconfig)
    try:
        sink = KubernetesSink(cluster, name="bench", namespace=namespace, concurrency=concurrency)
        resources = ResourceSet.from_dicts(objs)
        started = time.monotonic()
        first = await sink.apply(resources, Context())
        first_s = time.monotonic() - started
        started = time.monotonic()
        again = await sink.apply(resources, Context())
        again_s = time.monotonic() - started
        # A sink without an inventory (another name) must dry-run every object to find them unchanged.
        fresh = KubernetesSink(cluster, name="bench-cold", namespace=namespace, concurrency=concurrency)
        started = time.monotonic()
        cold = await fresh.apply(resources, Context())
        cold_s = time.monotonic() - started
    finally:
        await cluster.aclose()
    return (
        first_s,
        again_s,
        cold_s,
        f"first: {first.summary()}; re-apply: {again.summary()}; " + (f"no inventory: {cold.summary()}"),
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--configmaps", type=int, default=500)
    parser.add_argument("--services", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        print("kubectl is not on PATH", file=sys.stderr)
        return 2
    total = args.configmaps + args.services
    with envtest.start_sync() as env, tempfile.TemporaryDirectory() as tmp:
        ns_sink = env.create_namespace()
        ns_kubectl = env.create_namespace()
        path = Path(tmp) / "manifests.yaml"
        path.write_text(yaml.safe_dump_all(manifests(ns_kubectl, args.configmaps, args.services)))

        first_s, again_s, cold_s, summaries = anyio.run(
            sink_applies, env, ns_sink, manifests(ns_sink, args.configmaps, args.services), args.concurrency
        )
        k_first = kubectl_apply(kubectl, env.kubeconfig, path)
        k_again = kubectl_apply(kubectl, env.kubeconfig, path)

    print(f"{total} objects ({args.configmaps} ConfigMaps + {args.services} Services), envtest, one run")
    print(f"{'':24}{'KubernetesSink':>16}{'kubectl SSA':>14}{'sink/kubectl':>14}")
    print(f"{'first apply (create)':24}{first_s:>15.2f}s{k_first:>13.2f}s{first_s / k_first:>14.2f}")
    print(f"{'re-apply (no change)':24}{again_s:>15.2f}s{k_again:>13.2f}s{again_s / k_again:>14.2f}")
    print(f"{'re-apply, no inventory':24}{cold_s:>15.2f}s{k_again:>13.2f}s{cold_s / k_again:>14.2f}")
    print(f"sink reports: {summaries}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
