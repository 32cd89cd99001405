"""What every real-server fixture needs: CI policy, programs, ports, processes and throw-away TLS.

One rule for every fixture: a missing program or binary skips the test with the reason outside CI, and fails
it in CI (``CI=true``), so real-server tests never disappear silently from a CI run.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn, Protocol, TypeVar

import pytest

__all__ = [
    "Server",
    "find_program",
    "free_port",
    "in_ci",
    "make_tls",
    "openssl",
    "running",
    "stop_process",
    "unavailable",
    "wait_port",
]

# Debian installs some servers outside a normal user's PATH.
_EXTRA_DIRS = ("/usr/sbin", "/usr/lib/git-core", "/usr/bin")


def in_ci() -> bool:
    """True when running under CI (``CI`` set to 1/true/yes)."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def unavailable(reason: str) -> NoReturn:
    """Fail the test in CI, skip it elsewhere, with ``reason``."""
    if in_ci():
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def find_program(name: str, *, package: str) -> str:
    """The path of program ``name``, or :func:`unavailable` naming the Debian ``package`` to install."""
    path = shutil.which(name) or next(
        (p for p in (f"{d}/{name}" for d in _EXTRA_DIRS) if os.access(p, os.X_OK)), None
    )
    if path is None:
        unavailable(f"{name!r} is not installed (Debian: apt-get install {package})")
    return path


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (the kernel's choice)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_port(port: int, proc: subprocess.Popen[bytes] | None, what: str, timeout: float = 10.0) -> None:
    """Wait until something accepts connections on 127.0.0.1:``port``; fail early if ``proc`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"{what} exited with {proc.returncode}: {err}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout}s")


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """Terminate ``proc`` (kill after 5 s) and close its pipes."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    for stream in (proc.stdout, proc.stderr, proc.stdin):
        if stream is not None:
            stream.close()


def openssl(*args: str, cwd: Path) -> None:
    """Run the openssl CLI in ``cwd`` (arguments as a list, never a shell)."""
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_tls(directory: Path, *, ca_name: str = "rk-test-ca") -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for 127.0.0.1/localhost: (cert, key, CA file)."""
    find_program("openssl", package="openssl")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")  # EC: fast to generate
    openssl("req", "-x509", *ec, "-days", "2", "-subj", f"/CN={ca_name}",
             "-keyout", "ca.key", "-out", "ca.pem", cwd=directory)  # fmt: skip
    openssl("req", *ec, "-subj", "/CN=127.0.0.1", "-keyout", "srv.key", "-out", "srv.csr", cwd=directory)
    (directory / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-days", "2", "-extfile", "ext.cnf", "-out", "srv.pem", cwd=directory)  # fmt: skip
    return directory / "srv.pem", directory / "srv.key", directory / "ca.pem"


class Server(Protocol):
    """A test server with a blocking start and stop."""

    def start(self) -> None:
        """Start serving; return once ready."""
        ...

    def stop(self) -> None:
        """Stop and clean up."""
        ...


S = TypeVar("S", bound=Server)


@contextmanager
def running(server: S) -> Iterator[S]:
    """Start ``server`` and stop it when the block ends, however it ends (the body of most fixtures)."""
    server.start()
    try:
        yield server
    finally:
        server.stop()
