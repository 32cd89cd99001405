"""Image automation benchmark: a semver policy over 100,000 tags, and the setters over 2,000 YAML files.

    python bench/images.py [--tags 100000] [--files 2000] [--repeat 5] [--no-go]

Measures (best of ``--repeat`` runs, wall clock):
* ``SemverPolicy.latest`` over 100,000 tags (releases with and without ``v``, prereleases, CI tags, cosign
  ``.sig`` tags), shuffled and in the registry's (sorted) order, for a narrow and a wide range;
* the peer for the policy: a Go program running Flux's own selection code path (Masterminds/semver v3,
  fluxcd/pkg ``version.ParseVersion`` semantics) over the same tags (bench/images_go), when Go is available
  (built first, so compile time is not measured);
* ``apply_setters`` over a tree of 2,000 Deployment files, every one marked: a run that changes every file, a
  run that changes nothing (already up to date), and a tree where 1 file in 10 has a marker.
There is no Flux binary (image-automation-controller) here, so the setters have no side-by-side peer.
Targets (issue 6): semver over 100,000 tags <= 100 ms; setters over 2,000 files <= 2 s.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from reconcilekit.images import SemverPolicy, apply_setters

HERE = Path(__file__).resolve().parent


def make_tags(n: int, seed: int = 6) -> list[str]:
    """A deterministic tag list shaped like a busy repository's."""
    rnd = random.Random(seed)
    tags: list[str] = []
    for _ in range(n):
        r = rnd.random()
        major, minor, patch = rnd.randint(0, 20), rnd.randint(0, 50), rnd.randint(0, 100)
        if r < 0.45:
            tags.append(f"{major}.{minor}.{patch}")
        elif r < 0.6:
            tags.append(f"v{major}.{minor}.{patch}")
        elif r < 0.7:
            tags.append(f"{major}.{minor}.{patch}-rc.{rnd.randint(0, 9)}")
        elif r < 0.85:
            tags.append(f"main-{rnd.getrandbits(28):07x}-{rnd.randint(1_600_000_000, 1_700_000_000)}")
        elif r < 0.95:
            tags.append(f"sha256-{rnd.getrandbits(128):032x}.sig")
        else:
            tags.append(rnd.choice(["latest", "stable", "edge", f"pr-{rnd.randint(1, 9999)}"]))
    return tags


def best_of(repeat: int, fn: Callable[[], object]) -> tuple[float, object]:
    best = float("inf")
    result: object = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


RANGES = ["^5.0", ">=1.0.0"]


def bench_semver(tags: list[str], repeat: int) -> dict[tuple[str, str], float]:
    out: dict[tuple[str, str], float] = {}
    orders = {"shuffled": tags, "sorted": sorted(tags)}
    for rng in RANGES:
        policy = SemverPolicy(rng)
        for name, ordered in orders.items():
            seconds, latest = best_of(repeat, lambda p=policy, t=ordered: p.latest(t))  # type: ignore[misc]
            out[rng, name] = seconds
            label = f"semver {rng:>8} over {len(tags):,} tags ({name:8})"
            print(f"{label} -> {latest!s:10} {seconds * 1000:8.1f} ms")
    return out


def go_peer(tags: list[str], repeat: int) -> dict[tuple[str, str], float] | None:
    go = shutil.which("go")
    if go is None:
        print("peer: go not found; Masterminds/semver comparison skipped")
        return None
    exe = Path(tempfile.gettempdir()) / "reconcilekit-bench-images-go"
    env = dict(os.environ)
    env.setdefault("GOFLAGS", "-mod=mod")
    build = subprocess.run(
        [go, "build", "-o", str(exe), "."], cwd=HERE / "images_go", env=env, capture_output=True, text=True
    )
    if build.returncode != 0:
        print(f"peer: building the Masterminds/semver program failed:\n{build.stderr[-2000:]}")
        return None
    out: dict[tuple[str, str], float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, ordered in {"shuffled": tags, "sorted": sorted(tags)}.items():
            path = Path(tmp) / f"{name}.txt"
            path.write_text("\n".join(ordered) + "\n")
            for rng in RANGES:
                res = subprocess.run(
                    [str(exe), str(path), rng, str(repeat)], capture_output=True, text=True, check=True
                )
                latest, nanos = res.stdout.split()
                out[rng, name] = int(nanos) / 1e9
                print(
                    f"go (Flux: Masterminds/semver v3) {rng:>8} ({name:8}) -> {latest:10} "
                    f"{int(nanos) / 1e6:8.1f} ms"
                )
    return out


DEPLOYMENT = """\
# {index}: generated for the benchmark
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{index}
  namespace: team-{team}
  labels:
    app.kubernetes.io/name: app-{index}
    app.kubernetes.io/part-of: bench
spec:
  replicas: 2
  selector:
    matchLabels:
      app.kubernetes.io/name: app-{index}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: app-{index}
    spec:
      containers:
        - name: app
          image: registry.example:5000/team-{team}/app:1.0.0{marker}
          args: ["--listen", ":8080", "--log-level", "info"]
          ports:
            - containerPort: 8080
              name: http
          resources:
            requests: {{cpu: 100m, memory: 64Mi}}
            limits: {{memory: 128Mi}}
          readinessProbe:
            httpGet: {{path: /healthz, port: http}}
        - name: sidecar
          image: registry.example:5000/proxy:2.3.4
          env:
            - name: MODE
              value: "sidecar # not a marker"
"""


def make_tree(root: Path, files: int, marked_every: int = 1) -> None:
    for i in range(files):
        team = i % 20
        marker = f' # {{"$imagepolicy": "flux-system:team-{team}"}}' if i % marked_every == 0 else ""
        path = root / f"team-{team}" / f"app-{i}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(DEPLOYMENT.format(index=i, team=team, marker=marker))


def bench_setters(files: int, repeat: int) -> dict[str, float]:
    images = {f"flux-system:team-{t}": f"registry.example:5000/team-{t}/app:1.1.0" for t in range(20)}
    results: dict[str, float] = {}
    for label, every in (("all marked, all change", 1), ("1 in 10 marked", 10)):
        best = float("inf")
        changes = 0
        for _ in range(repeat):
            with tempfile.TemporaryDirectory() as tmp:
                make_tree(Path(tmp), files, every)
                start = time.perf_counter()
                changes = len(apply_setters(tmp, images))
                best = min(best, time.perf_counter() - start)
        results[label] = best
        print(f"setters over {files:,} files ({label:22}) {changes:5} changes {best * 1000:8.1f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        make_tree(Path(tmp), files, 1)
        apply_setters(tmp, images)
        seconds, res = best_of(repeat, lambda: apply_setters(tmp, images))
        results["up to date"] = seconds
        print(f"setters over {files:,} files ({'up to date, no change':22}) {len(res):5} changes "  # type: ignore[arg-type]
              f"{seconds * 1000:8.1f} ms")  # fmt: skip
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tags", type=int, default=100_000)
    parser.add_argument("--files", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-go", action="store_true", help="skip the Masterminds/semver (Go) peer")
    args = parser.parse_args()

    tags = make_tags(args.tags)
    ours = bench_semver(tags, args.repeat)
    peer = None if args.no_go else go_peer(tags, args.repeat)
    if peer:
        for key, seconds in ours.items():
            print(f"reconcilekit/Go {key[0]:>8} ({key[1]:8}) = {seconds / peer[key]:.2f}x")
    worst = max(ours.values())
    print(f"semver target <= 100 ms: worst {worst * 1000:.1f} ms -> {'met' if worst <= 0.1 else 'NOT met'}")

    setters = bench_setters(args.files, args.repeat)
    worst_setters = max(setters.values())
    verdict = "met" if worst_setters <= 2.0 else "NOT met"
    print(f"setters target <= 2 s: worst {worst_setters * 1000:.1f} ms -> {verdict}")
    print("peer for the setters: none here (no Flux image-automation-controller binary on this machine)")


if __name__ == "__main__":
    main()
