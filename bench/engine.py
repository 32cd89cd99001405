"""Engine benchmark: no-op reconciles per second and memory per queued key, beside client-go's workqueue.

    python bench/engine.py [--keys 100000] [--memory-keys 1000000] [--no-go]

Runs, in one process run:
* reconcilekit's Controller on 100,000 keys with 1 and 8 workers, metrics off and on (asyncio; trio once);
* memory per queued key at 1,000,000 keys (tracemalloc; the keys' own strings are counted separately);
* the peer: a Go program driving k8s.io/client-go's workqueue the same way (bench/engine_go), when Go is
  available - built first, so compile time is not measured.
Targets (issue 2): >= 100,000 no-op reconciles/s with 1 worker; <= 1 KiB per queued key.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import anyio

from reconcilekit import Controller, Request
from reconcilekit.metrics import PrometheusMetrics

HERE = Path(__file__).resolve().parent


async def _noop(request: Request) -> None:
    return None


async def _rate(keys: int, workers: int, metrics: bool) -> float:
    registry = None
    if metrics:
        from prometheus_client import CollectorRegistry

        registry = CollectorRegistry()
    ctl = Controller(
        _noop,
        workers=workers,
        resync_interval=None,
        metrics=PrometheusMetrics(registry) if metrics else None,
    )
    for i in range(keys):
        ctl.enqueue(i)
    start = time.perf_counter()
    async with ctl:
        await ctl.wait_idle()
    return keys / (time.perf_counter() - start)


def memory_per_key(n: int) -> tuple[float, float]:
    """(bytes per queued key for the queue's own structures, bytes per key for the key strings)."""
    keys = [f"default/app-{i}" for i in range(n)]
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    ctl = Controller(_noop, resync_interval=36000)  # resync on (the default): known keys are kept too
    for key in keys:
        ctl.enqueue(key)
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    assert ctl.depth == n
    key_bytes = sum(sys.getsizeof(k) for k in keys[:10000]) / 10000
    return used / n, key_bytes


def go_peer(keys: int) -> dict[int, float] | None:
    go = shutil.which("go")
    if go is None:
        print("peer: go not found; client-go workqueue comparison skipped")
        return None
    exe = Path(tempfile.gettempdir()) / "reconcilekit-bench-engine-go"
    env = dict(os.environ)
    # Share the module cache of tools/envtest/build.sh: client-go is already there after an envtest build.
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "reconcilekit" / "envtest"
    env.setdefault(
        "GOMODCACHE", str(Path(os.environ.get("RECONCILEKIT_ENVTEST_CACHE", cache)) / "go" / "mod")
    )
    env.setdefault("GOFLAGS", "-mod=mod")
    build = subprocess.run(
        [go, "build", "-o", str(exe), "."], cwd=HERE / "engine_go", env=env, capture_output=True, text=True
    )
    if build.returncode != 0:
        print(f"peer: building the client-go program failed:\n{build.stderr[-2000:]}")
        return None
    out: dict[int, float] = {}
    for workers in (1, 8):
        run = subprocess.run([str(exe), str(keys), str(workers)], capture_output=True, text=True, check=True)
        out[workers] = float(run.stdout.strip())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--memory-keys", type=int, default=1_000_000)
    parser.add_argument("--no-go", action="store_true", help="skip the client-go peer")
    args = parser.parse_args()

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    results: dict[tuple[int, bool], float] = {}
    for workers in (1, 8):
        for metrics in (False, True):
            rate = max(anyio.run(_rate, args.keys, workers, metrics) for _ in range(3))
            results[workers, metrics] = rate
            label = f"workers={workers} metrics={'on ' if metrics else 'off'}"
            print(f"reconcilekit  {label}  {rate:12,.0f} reconciles/s")
    trio_rate = anyio.run(_rate, args.keys, 1, False, backend="trio")
    print(f"reconcilekit  workers=1 metrics=off trio {trio_rate:8,.0f} reconciles/s")
    peer = None if args.no_go else go_peer(args.keys)
    if peer:
        for workers, rate in peer.items():
            ours = results[workers, False]
            print(
                f"client-go     workers={workers} (workqueue, no-op)  {rate:12,.0f} items/s   "
                f"reconcilekit/client-go = {ours / rate:.2f}x"
            )
    per_key, key_bytes = memory_per_key(args.memory_keys)
    print(f"memory: {per_key:.0f} B per queued key at {args.memory_keys:,} keys", end=" ")
    print(f"(plus {key_bytes:.0f} B per key string)")
    ok = results[1, False] >= 100_000 and per_key + key_bytes <= 1024
    print(f"targets (>= 100,000/s with 1 worker, <= 1 KiB per key): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
