"""Benchmark GitSource against the git CLI, side by side in the same run, over a local git daemon.

Measures:

1. no-change poll over git:// (GitSource.fetch when the branch did not move) vs ``git ls-remote``;
   target: median <= 10 ms and zero objects transferred;
2. first fetch of a generated repository (10,000 commits, 5,000 files) - shallow GitSource vs
   ``git clone --depth 1``, full GitSource (shallow=False) vs ``git clone``; target <= 1.5x git;
3. incremental fetch after 10 new commits - GitSource (fetch + new snapshot) vs ``git fetch``, and vs
   ``git fetch`` + ``git reset --hard`` (which, like GitSource, also updates files on disk).

Run: ``/tmp/rkvenv/bin/python bench/git.py [--commits 10000] [--files 5000] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import anyio

from reconcilekit.git import FetchProgress, GitSource
from reconcilekit.testing._fixtures_git import GitDaemon, git_env


def generate(bare: Path, commits: int, files: int) -> None:
    """Build ``bare`` with git fast-import: one commit adding ``files`` files, then one-file edits."""
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True, env=git_env())
    chunks: list[bytes] = []
    when = 1_700_000_000

    def blob(text: str) -> bytes:
        data = text.encode()
        return b"data %d\n%s\n" % (len(data), data)

    def header(mark: int, message: str, parent: int | None) -> None:
        chunks.append(b"commit refs/heads/main\nmark :%d\n" % mark)
        chunks.append(b"committer Bench <bench@example.test> %d +0000\n" % (when + mark))
        chunks.append(blob(message))
        if parent is not None:
            chunks.append(b"from :%d\n" % parent)

    header(1, "initial", None)
    for i in range(files):
        body = (
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  value: '{i}-0'\n"
            + "x" * 120
        )
        chunks.append(f"M 100644 inline dir{i % 50:02d}/file{i:05d}.yaml\n".encode())
        chunks.append(blob(body))
    for c in range(2, commits + 1):
        header(c, f"edit {c}", c - 1)
        i = (c * 7919) % files
        body = (
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  value: '{i}-{c}'\n"
            + "x" * 120
        )
        chunks.append(f"M 100644 inline dir{i % 50:02d}/file{i:05d}.yaml\n".encode())
        chunks.append(blob(body))
    subprocess.run(
        ["git", "--git-dir", str(bare), "fast-import", "--quiet"],
        input=b"".join(chunks),
        check=True,
        env=git_env(),
    )
    subprocess.run(["git", "--git-dir", str(bare), "repack", "-adq"], check=True, env=git_env())


def add_commits(bare: Path, count: int, start: int, files: int) -> None:
    """Append ``count`` one-file commits to main with fast-import."""
    chunks: list[bytes] = []
    for n in range(count):
        c = start + n
        i = (c * 104729) % files
        body = f"kind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  value: 'new-{c}'\n".encode()
        chunks.append(b"commit refs/heads/main\n")
        chunks.append(b"committer Bench <bench@example.test> %d +0000\n" % (1_800_000_000 + c))
        chunks.append(b"data 3\nnew\n")
        if n == 0:
            chunks.append(b"from refs/heads/main^0\n")
        chunks.append(f"M 100644 inline dir{i % 50:02d}/file{i:05d}.yaml\n".encode())
        chunks.append(b"data %d\n%s\n" % (len(body), body))
    subprocess.run(
        ["git", "--git-dir", str(bare), "fast-import", "--quiet"],
        input=b"".join(chunks),
        check=True,
        env=git_env(),
    )


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def git(*args: str, cwd: Path | None = None) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, env=git_env(), capture_output=True)


def fetch(source: GitSource) -> None:
    anyio.run(source.fetch)


def row(name: str, ours: float, theirs: float, theirs_name: str, target: float | None = None) -> None:
    ratio = ours / theirs if theirs else float("inf")
    verdict = "" if target is None else ("  OK" if ratio <= target else f"  OVER target {target}x")
    print(
        f"{name:<34} ours {ours * 1000:9.1f} ms   {theirs_name:<28} {theirs * 1000:9.1f} ms"
        f"   ratio {ratio:5.2f}{verdict}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--commits", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--polls", type=int, default=50)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="rk-bench-git-"))
    daemon = GitDaemon(tmp / "served")
    try:
        (tmp / "served").mkdir()
        bare = tmp / "served" / "bench.git"
        t = timed(lambda: generate(bare, args.commits, args.files))
        print(f"generated {args.commits} commits x {args.files} files with git fast-import in {t:.2f}s")
        daemon.start()
        url = daemon.url("bench.git")

        # 1. first fetch
        ours_shallow: list[float] = []
        git_shallow: list[float] = []
        ours_full: list[float] = []
        git_full: list[float] = []
        for r in range(args.rounds):
            # Interleaved, so load from other processes hits both sides alike.
            shallow = GitSource(url, cache_dir=tmp / f"s{r}")
            full = GitSource(url, shallow=False, cache_dir=tmp / f"f{r}")
            ours_shallow.append(timed(partial(fetch, shallow)))
            git_shallow.append(timed(partial(git, "clone", "-q", "--depth", "1", url, str(tmp / f"gs{r}"))))
            ours_full.append(timed(partial(fetch, full)))
            git_full.append(timed(partial(git, "clone", "-q", url, str(tmp / f"gf{r}"))))
        print()
        print(f"first fetch, median of {args.rounds}:")
        row("  shallow (depth 1) + snapshot", statistics.median(ours_shallow), statistics.median(git_shallow),
            "git clone --depth 1", 1.5)  # fmt: skip
        row("  full history + snapshot", statistics.median(ours_full), statistics.median(git_full),
            "git clone", 1.5)  # fmt: skip

        # 2. no-change poll
        progress: list[FetchProgress] = []
        source = GitSource(url, cache_dir=tmp / "poll", progress=progress.append)
        fetch(source)
        progress.clear()

        async def polls() -> list[float]:
            out = []
            for _ in range(args.polls):
                start = time.perf_counter()
                await source.fetch()
                out.append(time.perf_counter() - start)
            return out

        ours_polls = anyio.run(polls)
        git_polls = [timed(lambda: git("ls-remote", url, "refs/heads/main")) for _ in range(20)]
        print()
        print(
            f"no-change poll over git://, median of {args.polls}: objects transferred {len(progress)} reports"
        )
        row("  GitSource.fetch (unchanged)", statistics.median(ours_polls), statistics.median(git_polls),
            "git ls-remote")  # fmt: skip
        median_ms = statistics.median(ours_polls) * 1000
        verdict = "OK" if median_ms <= 10 and not progress else "MISSED"
        p90 = sorted(ours_polls)[int(len(ours_polls) * 0.9)] * 1000
        print(f"  target <= 10 ms median, zero objects: {verdict} (p90 {p90:.1f} ms)")

        # 3. incremental fetch
        inc_ours, inc_ours_full, inc_git, inc_git_reset = [], [], [], []
        shallow_src = GitSource(url, cache_dir=tmp / "s0")
        full_src = GitSource(url, shallow=False, cache_dir=tmp / "f0")
        fetch(shallow_src)
        fetch(full_src)
        for r in range(args.rounds):
            add_commits(bare, 10, 100_000 + r * 10, args.files)
            inc_ours.append(timed(lambda: fetch(shallow_src)))
            inc_ours_full.append(timed(lambda: fetch(full_src)))
            inc_git.append(timed(lambda: git("fetch", "-q", "origin", cwd=tmp / "gf0")))
            inc_git_reset.append(timed(lambda: git("reset", "-q", "--hard", "origin/main", cwd=tmp / "gf0")))
        print()
        print(f"incremental fetch of 10 new commits, median of {args.rounds}:")
        git_fetch = statistics.median(inc_git)
        git_fetch_reset = git_fetch + statistics.median(inc_git_reset)
        row("  shallow GitSource + snapshot", statistics.median(inc_ours), git_fetch, "git fetch", 1.5)
        row("  full GitSource + snapshot", statistics.median(inc_ours_full), git_fetch, "git fetch", 1.5)
        row(
            "  shallow GitSource + snapshot",
            statistics.median(inc_ours),
            git_fetch_reset,
            "git fetch + reset --hard",
        )
    finally:
        daemon.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
