"""Benchmark: ``reconcilekit build`` against ``kubectl kustomize`` on a large overlay, side by side.

The input, generated in a temporary directory: a base of N Deployments and N Services (N = 1,000 by
default) plus a ConfigMap generator, and an overlay with namePrefix, namespace, labels with selectors,
images and a strategic-merge patch whose target is every Deployment. Both tools build the overlay as whole
processes (``kubectl kustomize overlay`` and ``python -m reconcilekit build overlay`` with this
interpreter), alternately, ``--repeat`` times each; the script reports min and median wall time, the
ratio, whether the parsed outputs are equal and whether the bytes are identical. The target of issue 5 is
a ratio of at least 5.

Usage::

    python bench/kustomize.py                    # 1,000 Deployments + 1,000 Services, 3 runs each
    python bench/kustomize.py --deployments 200 --repeat 5
    python bench/kustomize.py --profile          # also cProfile one in-process build (top 25 by cumtime)

Exit status: 0 when the outputs are equal, 1 when they differ, 2 when a tool is missing or fails.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i}
  labels:
    app: app-{i}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: app-{i}
  template:
    metadata:
      labels:
        app: app-{i}
    spec:
      containers:
      - name: main
        image: example.com/app:1.0.{i}
        ports:
        - containerPort: 8080
          name: http
        env:
        - name: INDEX
          value: "{i}"
        envFrom:
        - configMapRef:
            name: shared-config
        resources:
          requests:
            cpu: 10m
            memory: 16Mi
      - name: proxy
        image: envoyproxy/envoy:v1.30.0
        args: ["--concurrency", "1"]
"""

SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: app-{i}
spec:
  selector:
    app: app-{i}
  ports:
  - name: http
    port: 80
    targetPort: http
"""

BASE_KUSTOMIZATION = """\
resources:
- deployments.yaml
- services.yaml
configMapGenerator:
- name: shared-config
  literals:
  - LOG_LEVEL=info
  - REGION=eu-west-1
  files:
  - settings.properties
"""

OVERLAY_KUSTOMIZATION = """\
resources:
- ../base
namePrefix: prod-
namespace: production
labels:
- pairs:
    env: prod
    team: platform
  includeSelectors: true
images:
- name: example.com/app
  newName: registry.example.com/app
  newTag: 2.0.0
- name: envoyproxy/envoy
  digest: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
patches:
- target:
    kind: Deployment
  patch: |-
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: any
    spec:
      replicas: 3
      template:
        spec:
          containers:
          - name: main
            resources:
              limits:
                memory: 64Mi
            env:
            - name: ENV
              value: prod
"""


def generate(root: Path, deployments: int) -> Path:
    """Write the base and overlay under ``root``; returns the overlay directory."""
    base = root / "base"
    overlay = root / "overlay"
    base.mkdir(parents=True)
    overlay.mkdir()
    (base / "deployments.yaml").write_text("---\n".join(DEPLOYMENT.format(i=i) for i in range(deployments)))
    (base / "services.yaml").write_text("---\n".join(SERVICE.format(i=i) for i in range(deployments)))
    (base / "settings.properties").write_text("".join(f"key{i}=value{i}\n" for i in range(50)))
    (base / "kustomization.yaml").write_text(BASE_KUSTOMIZATION)
    (overlay / "kustomization.yaml").write_text(OVERLAY_KUSTOMIZATION)
    return overlay


def run(cmd: list[str], cwd: Path) -> tuple[float, bytes]:
    """Run ``cmd`` once; returns wall seconds and stdout (exits 2 on failure)."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.stderr.write(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr.decode(errors='replace')}"
        )
        sys.exit(2)
    return elapsed, proc.stdout


def profile_in_process(overlay: Path, top: int) -> str:
    """cProfile one in-process ``build`` + ``to_yaml``; returns the top functions by cumulative time."""
    from reconcilekit import kustomize  # imported here: the timed runs must not pay for it

    profiler = cProfile.Profile()
    profiler.enable()
    kustomize.to_yaml(kustomize.build(overlay))
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    out.write("\n--- by own time ---\n")
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--deployments", type=int, default=1000, help="Deployments (and Services) in the base"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool (min and median reported)")
    parser.add_argument("--kubectl", default="kubectl", help="kubectl binary")
    parser.add_argument("--profile", action="store_true", help="also profile one in-process build")
    parser.add_argument("--keep", action="store_true", help="keep the generated tree and outputs")
    args = parser.parse_args(argv)

    kubectl = shutil.which(args.kubectl)
    if kubectl is None:
        sys.stderr.write(f"{args.kubectl} not found on PATH\n")
        return 2
    root = Path(tempfile.mkdtemp(prefix="rk-bench-kustomize-"))
    try:
        overlay = generate(root, args.deployments)
        tools = {
            "kubectl kustomize": [kubectl, "kustomize", str(overlay)],
            "reconcilekit build": [sys.executable, "-m", "reconcilekit", "build", str(overlay)],
        }
        times: dict[str, list[float]] = {name: [] for name in tools}
        outputs: dict[str, bytes] = {}
        # Alternate the tools so a slow spell on the shared machine hits both alike.
        for _ in range(args.repeat):
            for name, cmd in tools.items():
                elapsed, out = run(cmd, root)
                times[name].append(elapsed)
                outputs[name] = out
        ref, ours = outputs["kubectl kustomize"], outputs["reconcilekit build"]
        if args.keep:
            (root / "kubectl.yaml").write_bytes(ref)
            (root / "reconcilekit.yaml").write_bytes(ours)
        docs_ref = [d for d in yaml.load_all(ref, Loader=_Loader) if d is not None]
        docs_ours = [d for d in yaml.load_all(ours, Loader=_Loader) if d is not None]
        equal = docs_ref == docs_ours
        print(f"input: {args.deployments} Deployments + {args.deployments} Services + 1 ConfigMap generator")
        print(f"output: {len(docs_ref)} documents, {len(ref):,} bytes from kubectl")
        for name, ts in times.items():
            print(
                f"{name:20s} min {min(ts):7.3f} s   median {statistics.median(ts):7.3f} s   "
                f"runs {', '.join(f'{t:.3f}' for t in ts)}"
            )
        k, r = times["kubectl kustomize"], times["reconcilekit build"]
        print(
            f"speed-up (kubectl / reconcilekit): min {min(k) / min(r):.2f}x, median "
            f"{statistics.median(k) / statistics.median(r):.2f}x   (target >= 5x)"
        )
        print(f"parsed outputs equal: {equal}   bytes identical: {ref == ours}")
        if not equal:
            for i, (a, b) in enumerate(zip(docs_ref, docs_ours, strict=False)):
                if a != b:
                    print(
                        f"first differing document: #{i} kubectl {a.get('kind')}/{a['metadata'].get('name')}"
                    )
                    break
            else:
                print(f"document counts differ: kubectl {len(docs_ref)}, reconcilekit {len(docs_ours)}")
        if args.profile:
            print(profile_in_process(overlay, 25))
        if args.keep:
            print(f"kept {root}")
        return 0 if equal else 1
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
