"""A real kube-apiserver backed by a real etcd, started on loopback for tests (controller-runtime's envtest).

Where it sits: under every Kubernetes part of reconcilekit's own test suite, and offered to users through
:mod:`reconcilekit.testing.envtest` and the ``envtest_server``/``envtest_namespace`` pytest fixtures. There is
no kubelet, scheduler or controller-manager: objects are stored and validated, admission and RBAC run, watches
work, but nothing acts on the objects (no pods run, namespaces stay ``Terminating`` after deletion, garbage
collection of owned objects does not happen).

Each :class:`Environment` owns one temporary directory (on ``/dev/shm`` when possible, so etcd's fsyncs cost
nothing) holding generated certificates, the etcd data, the logs and the kubeconfig. Both servers run in their
own process groups; :meth:`Environment.stop` kills the groups and removes the directory, an ``atexit`` hook
does the same for environments that were never stopped, and a watchdog shell process does it if the Python
process dies without running ``atexit`` (SIGKILL, a crash).
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import datetime as _dt
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import anyio.to_thread
import yaml

from .._errors import ConfigurationError, ReconcileKitError, TemporaryError

__all__ = [
    "DEFAULT_KUBERNETES_VERSION",
    "BinariesNotFoundError",
    "CRDNotEstablishedError",
    "Environment",
    "EnvtestError",
    "EnvtestRequestError",
    "ServerStartError",
    "cache_dir",
    "find_binaries",
    "start",
    "start_sync",
]

#: The kube-apiserver release that ``tools/envtest/build.sh`` builds (kept equal to tools/envtest/go.mod).
DEFAULT_KUBERNETES_VERSION = "v1.32.13"

_BUILD_SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "envtest" / "build.sh"
_LOG_TAIL_LINES = 30
_START_ATTEMPTS = 3
_ADMIN_USER = "reconcilekit-admin"


class EnvtestError(ReconcileKitError):
    """Base of the errors raised by the envtest harness."""


class BinariesNotFoundError(EnvtestError, ConfigurationError):
    """kube-apiserver or etcd could not be found; the message says where it looked and how to build them."""

    def __init__(self, missing: Iterable[str], searched: Iterable[str], *, hint: str = "") -> None:
        self.missing = tuple(missing)
        self.searched = tuple(searched)
        where = "; ".join(self.searched) or "nowhere"
        text = f"envtest binaries not found: {', '.join(self.missing)} (searched: {where})"
        if hint:
            text = f"{text}. {hint}"
        super().__init__(text)


class ServerStartError(EnvtestError, TemporaryError):
    """etcd or kube-apiserver exited or did not become ready in time; the message ends with its log tail."""

    def __init__(self, component: str, reason: str, log_tail: str) -> None:
        self.component = component
        self.reason = reason
        self.log_tail = log_tail
        super().__init__(f"envtest {component} {reason}; last lines of its log:\n{log_tail or '(empty log)'}")


class EnvtestRequestError(EnvtestError):
    """A request the harness itself made to the API server (CRD install, namespace) failed."""

    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.body = body
        super().__init__(f"envtest: {method} {path} answered {status}: {body[:500]}")


class CRDNotEstablishedError(EnvtestError, TemporaryError):
    """A CustomResourceDefinition did not become Established (and served by discovery) in time."""

    def __init__(self, name: str, timeout: float, detail: str) -> None:
        self.name = name
        super().__init__(
            f"envtest: CustomResourceDefinition {name} not established within {timeout:g} s: {detail}"
        )


# --- locating binaries ------------------------------------------------------------------------------------


def cache_dir() -> Path:
    """Return the root of the binary cache ``tools/envtest/build.sh`` fills.

    ``$RECONCILEKIT_ENVTEST_CACHE`` when set, else ``$XDG_CACHE_HOME/reconcilekit/envtest``
    (``XDG_CACHE_HOME`` defaults to ``~/.cache``). Binaries live in ``<root>/<kubernetes version>/bin``.
    """
    override = os.environ.get("RECONCILEKIT_ENVTEST_CACHE")
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "reconcilekit" / "envtest"


def _has_binaries(directory: Path) -> bool:
    return all(os.access(directory / name, os.X_OK) for name in ("kube-apiserver", "etcd"))


def find_binaries(
    binary_dir: str | os.PathLike[str] | None = None, *, auto_build: bool | None = None
) -> Path:
    """Return the directory holding ``kube-apiserver`` and ``etcd``.

    Looked up in order: ``binary_dir``; ``$KUBEBUILDER_ASSETS`` (controller-runtime's setup-envtest layout:
    one directory with both binaries); the cache built by ``tools/envtest/build.sh`` for
    :data:`DEFAULT_KUBERNETES_VERSION`. When nothing is found and ``auto_build`` is true (default: the
    environment variable ``RECONCILEKIT_ENVTEST_AUTO_BUILD=1``) and the build script exists (a source
    checkout), the script is run, which may take many minutes the first time.

    Raises:
        BinariesNotFoundError: nothing usable was found (and no build was allowed or possible).
    """
    searched: list[str] = []
    explicit = [("binary_dir", binary_dir), ("KUBEBUILDER_ASSETS", os.environ.get("KUBEBUILDER_ASSETS"))]
    for label, candidate in explicit:
        if not candidate:
            continue
        directory = Path(candidate).expanduser()
        if _has_binaries(directory):
            return directory.resolve()
        # An explicit location that lacks the binaries is a configuration mistake: say so instead of
        # silently falling back to another copy the user did not ask for.
        missing = [n for n in ("kube-apiserver", "etcd") if not os.access(directory / n, os.X_OK)]
        raise BinariesNotFoundError(missing, [f"{label}={directory}"])
    cached = cache_dir() / DEFAULT_KUBERNETES_VERSION / "bin"
    searched.append(str(cached))
    if _has_binaries(cached):
        return cached
    if auto_build is None:
        auto_build = os.environ.get("RECONCILEKIT_ENVTEST_AUTO_BUILD", "") in ("1", "true", "yes")
    if auto_build and _BUILD_SCRIPT.is_file():
        result = subprocess.run(["bash", str(_BUILD_SCRIPT)], stdout=subprocess.PIPE, check=False)
        if result.returncode == 0 and _has_binaries(cached):
            return cached
        hint = f"{_BUILD_SCRIPT} failed with exit code {result.returncode} (its output is above)"
    elif _BUILD_SCRIPT.is_file():
        hint = (
            f"Build them with `{_BUILD_SCRIPT}` (needs Go; the first build takes many minutes), set "
            "RECONCILEKIT_ENVTEST_AUTO_BUILD=1 to build on demand, or point KUBEBUILDER_ASSETS at a "
            "directory holding kube-apiserver and etcd (e.g. from controller-runtime's setup-envtest)"
        )
    else:
        hint = (
            "Point KUBEBUILDER_ASSETS at a directory holding kube-apiserver and etcd (e.g. from "
            "controller-runtime's setup-envtest), or build them with tools/envtest/build.sh from a "
            "reconcilekit source checkout"
        )
    missing = [n for n in ("kube-apiserver", "etcd") if not os.access(cached / n, os.X_OK)]
    raise BinariesNotFoundError(missing, searched, hint=hint)


# --- certificates -----------------------------------------------------------------------------------------


class _CA:
    """A throwaway certificate authority; ECDSA P-256 because key generation is ~100x faster than RSA."""

    def __init__(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "reconcilekit-envtest-ca")])
        now = _dt.datetime.now(_dt.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _dt.timedelta(hours=1))
            .not_valid_after(now + _dt.timedelta(days=7))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self.key, hashes.SHA256())
        )

    def issue(
        self, common_name: str, *, organizations: Iterable[str] = (), server: bool = False
    ) -> tuple[bytes, bytes]:
        """Return (certificate PEM, private key PEM) for a client, or for the loopback server."""
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
        now = _dt.datetime.now(_dt.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attributes))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _dt.timedelta(hours=1))
            .not_valid_after(now + _dt.timedelta(days=7))
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.DNSName("localhost"),
                        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    ]
                ),
                critical=False,
            )
        cert = builder.sign(self.key, hashes.SHA256())
        return _pem_cert(cert), _pem_key(key)

    @property
    def cert_pem(self) -> bytes:
        return _pem_cert(self.cert)


def _pem_cert(cert: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    data: bytes = cert.public_bytes(serialization.Encoding.PEM)
    return data


def _pem_key(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    data: bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return data


def _service_account_keys() -> tuple[bytes, bytes]:
    """Return (private key PEM, public key PEM) for signing service-account tokens."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return _pem_key(key), public


# --- processes ------------------------------------------------------------------------------------------


def _free_ports(count: int) -> list[int]:
    """Ask the kernel for ``count`` distinct free loopback ports (all sockets open at once, so no repeats)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class _Process:
    """A server process in its own process group, logging to a file."""

    def __init__(self, name: str, argv: list[str], log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("wb")
        try:
            self.popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                # Own session = own process group, so stop() can kill anything the server forks, and a
                # Ctrl-C meant for pytest does not reach the servers before teardown does.
                start_new_session=True,
            )
        except BaseException:
            self._log.close()
            raise

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace: float) -> None:
        if self.popen.poll() is None:
            self._signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(grace)
        # Kill the group even when the leader has exited: a forked child could outlive it.
        self._signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(5)
        self._log.close()

    def _signal(self, sig: int) -> None:
        # The group is gone already when the process exited and was reaped.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)

    def failure(self, reason: str) -> ServerStartError:
        self._log.flush()
        return ServerStartError(self.name, reason, _tail(self.log_path))


# A POSIX shell that blocks reading its stdin (a pipe only this Python process holds the other end of). If the
# Python process dies without cleaning up, the pipe closes, `read` returns, and the shell kills the server
# process groups and removes the work directory. On a normal stop the shell is killed first. (No "--" before
# the negative pid: dash, Debian's sh, rejects "kill -KILL -- -PGID".)
_WATCHDOG = 'read -r _ ; for g in $2; do kill -KILL "-$g" 2>/dev/null; done; rm -rf -- "$1"'

# Strong references on purpose: an environment nobody stops must still be stopped at exit, not collected.
_live: set[Environment] = set()
_live_lock = threading.Lock()


@atexit.register
def _stop_leftovers() -> None:
    # Environments a test forgot to stop (or a crash skipped): stop them before the interpreter exits.
    with _live_lock:
        leftovers = list(_live)
    for env in leftovers:
        with contextlib.suppress(Exception):
            env.stop()


_ETCD_VERSION = re.compile(rb"etcd Version: (\d+)\.(\d+)")
_etcd_versions: dict[Path, tuple[int, int]] = {}


def _etcd_version(etcd: Path) -> tuple[int, int]:
    if etcd not in _etcd_versions:
        out = subprocess.run([str(etcd), "--version"], capture_output=True, check=False, timeout=30).stdout
        match = _ETCD_VERSION.search(out)
        _etcd_versions[etcd] = (int(match.group(1)), int(match.group(2))) if match else (0, 0)
    return _etcd_versions[etcd]


def _temp_parent() -> str | None:
    # tmpfs: etcd fsyncs every write, which costs milliseconds on disk and nothing in memory.
    shm = "/dev/shm"  # noqa: S108 - mkdtemp below makes a private directory inside it
    if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK):
        return shm
    return None


# --- the environment ---------------------------------------------------------------------------------------


class Environment:
    """One etcd + kube-apiserver pair on loopback, with an admin kubeconfig.

    Create it, :meth:`start` it (or use it as a context manager, or use :func:`start` / :func:`start_sync`),
    and :meth:`stop` it. Attributes are set by :meth:`start`:

    * ``kubeconfig`` - path of a kubeconfig file for the admin user (``O=system:masters``, so RBAC allows it
      everything); ``kubectl --kubeconfig`` and kubernetes-asyncio accept it.
    * ``server`` - ``https://127.0.0.1:<port>``; ``ca_file``, ``client_cert_file``, ``client_key_file``:
      PEM files for the TLS connection and the admin client certificate; ``token``: a bearer token for the
      same admin user (``--token-auth-file``).
    * ``work_dir`` - the temporary directory (certificates, etcd data, logs), removed by :meth:`stop`.

    Example::

        with Environment() as env:
            env.install_crds(["config/crd/widgets.yaml"])
            ns = env.create_namespace()

    Args:
        binary_dir: directory with ``kube-apiserver`` and ``etcd``; default: see :func:`find_binaries`.
        start_timeout: seconds to wait for ``/readyz``.
        extra_apiserver_args: more ``--flag=value`` arguments for kube-apiserver (they come last, so they
            override the defaults).
        auto_build: passed to :func:`find_binaries`.
    """

    def __init__(
        self,
        *,
        binary_dir: str | os.PathLike[str] | None = None,
        start_timeout: float = 60.0,
        extra_apiserver_args: Iterable[str] = (),
        auto_build: bool | None = None,
    ) -> None:
        self._binary_dir = binary_dir
        self._auto_build = auto_build
        self.start_timeout = start_timeout
        self.extra_apiserver_args = tuple(extra_apiserver_args)
        self._processes: list[_Process] = []
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._ssl: ssl.SSLContext | None = None
        self._lock = threading.Lock()
        self._ca: _CA | None = None
        self.work_dir: Path | None = None
        self.binary_dir: Path | None = None
        self.kubeconfig = Path()
        self.server = ""
        self.port = 0
        self.etcd_url = ""
        self.ca_file = Path()
        self.client_cert_file = Path()
        self.client_key_file = Path()
        self.token = ""

    # lifecycle

    def __enter__(self) -> Environment:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """True between a successful :meth:`start` and :meth:`stop`."""
        return self.work_dir is not None and bool(self._processes) and all(p.alive() for p in self._processes)

    def start(self) -> None:
        """Start etcd and kube-apiserver and wait until the API server is ready.

        Raises:
            BinariesNotFoundError: no binaries (see :func:`find_binaries`).
            ServerStartError: a server exited or ``/readyz`` did not answer ok within ``start_timeout``.
        """
        with self._lock:
            if self.work_dir is not None:
                raise ConfigurationError("envtest Environment.start() called twice; stop() it first")
            self.binary_dir = find_binaries(self._binary_dir, auto_build=self._auto_build)
            for attempt in range(1, _START_ATTEMPTS + 1):
                self.work_dir = Path(tempfile.mkdtemp(prefix="reconcilekit-envtest-", dir=_temp_parent()))
                with _live_lock:
                    _live.add(self)
                try:
                    self._start()
                except ServerStartError as err:
                    self._stop_locked()
                    # The free ports were probed, then released for the servers to bind: another process can
                    # take one in between. Only that race is worth a retry with new ports.
                    if attempt < _START_ATTEMPTS and "address already in use" in err.log_tail:
                        continue
                    raise
                except BaseException:
                    self._stop_locked()
                    raise
                return

    def _start(self) -> None:
        assert self.work_dir is not None
        assert self.binary_dir is not None
        work = self.work_dir
        certs = work / "pki"
        certs.mkdir(mode=0o700)
        ca = self._ca = _CA()
        serving_cert, serving_key = ca.issue("kube-apiserver", server=True)
        admin_cert, admin_key = ca.issue(_ADMIN_USER, organizations=["system:masters"])
        sa_key, sa_pub = _service_account_keys()
        self.token = uuid.uuid4().hex
        files = {
            "ca.crt": ca.cert_pem,
            "apiserver.crt": serving_cert,
            "apiserver.key": serving_key,
            "admin.crt": admin_cert,
            "admin.key": admin_key,
            "sa.key": sa_key,
            "sa.pub": sa_pub,
            "tokens.csv": f'{self.token},{_ADMIN_USER},{_ADMIN_USER},"system:masters"\n'.encode(),
        }
        for name, data in files.items():
            (certs / name).write_bytes(data)
            (certs / name).chmod(0o600)
        self.ca_file = certs / "ca.crt"
        self.client_cert_file = certs / "admin.crt"
        self.client_key_file = certs / "admin.key"

        etcd_port, peer_port, api_port = _free_ports(3)
        self.port = api_port
        self.server = f"https://127.0.0.1:{api_port}"
        self.etcd_url = f"http://127.0.0.1:{etcd_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        etcd = self.binary_dir / "etcd"
        etcd_args = [
            str(etcd),
            "--name=envtest",
            f"--data-dir={work / 'etcd'}",
            f"--listen-client-urls={self.etcd_url}",
            f"--advertise-client-urls={self.etcd_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=envtest={peer_url}",
            "--initial-cluster-state=new",
            "--logger=zap",
            "--log-level=warn",
        ]
        if _etcd_version(etcd) >= (3, 5):
            # Data is thrown away after the test; fsync buys nothing (on tmpfs it is cheap anyway).
            etcd_args.append("--unsafe-no-fsync")
        apiserver_args = [
            str(self.binary_dir / "kube-apiserver"),
            f"--etcd-servers={self.etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={api_port}",
            f"--cert-dir={certs}",
            f"--tls-cert-file={certs / 'apiserver.crt'}",
            f"--tls-private-key-file={certs / 'apiserver.key'}",
            f"--client-ca-file={certs / 'ca.crt'}",
            f"--token-auth-file={certs / 'tokens.csv'}",
            # RBAC stays on so tests can exercise 403 Forbidden with a less privileged user.
            "--authorization-mode=RBAC",
            # The ServiceAccount admission plugin rejects pods until a controller-manager creates the
            # "default" service account, and there is no controller-manager here.
            "--disable-admission-plugins=ServiceAccount",
            "--service-cluster-ip-range=10.0.0.0/24",
            f"--service-account-issuer={self.server}",
            f"--service-account-key-file={certs / 'sa.pub'}",
            f"--service-account-signing-key-file={certs / 'sa.key'}",
            "--allow-privileged=true",
            "--profiling=false",
            *self.extra_apiserver_args,
        ]
        # Both start at once: kube-apiserver retries its etcd connection, so waiting for etcd first would
        # only serialise two startups.
        self._processes.append(_Process("etcd", etcd_args, work / "etcd.log"))
        self._processes.append(_Process("kube-apiserver", apiserver_args, work / "kube-apiserver.log"))
        self._start_watchdog()
        self._write_kubeconfig(self.kubeconfig_path, _ADMIN_USER, admin_cert, admin_key)
        self.kubeconfig = self.kubeconfig_path
        self._wait_ready()

    @property
    def kubeconfig_path(self) -> Path:
        """Where the admin kubeconfig is written (inside ``work_dir``)."""
        if self.work_dir is None:
            raise ConfigurationError("envtest Environment is not started")
        return self.work_dir / "kubeconfig"

    def _start_watchdog(self) -> None:
        assert self.work_dir is not None
        groups = " ".join(str(p.popen.pid) for p in self._processes)
        self._watchdog = subprocess.Popen(
            ["sh", "-c", _WATCHDOG, "envtest-watchdog", str(self.work_dir), groups],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        last = "no answer yet"
        while True:
            for process in self._processes:
                if not process.alive():
                    raise process.failure(f"exited with code {process.popen.returncode} during startup")
            try:
                status, body = self.request("GET", "/readyz", timeout=2)
                if status == 200:
                    return
                last = f"/readyz answered {status}: {body[-300:]!r}"
            except OSError as err:
                # Connection refused / reset while the server is still binding: keep polling.
                last = f"/readyz: {err}"
            if time.monotonic() > deadline:
                apiserver = self._processes[-1]
                raise apiserver.failure(f"not ready within {self.start_timeout:g} s ({last})")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop both servers (SIGTERM, then SIGKILL to their process groups) and delete ``work_dir``.

        Safe to call more than once, and on an environment whose start failed.
        """
        with self._lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        if self._watchdog is not None:
            # Kill the watchdog first, so closing its pipe does not make it race with the stop below.
            with contextlib.suppress(ProcessLookupError):
                self._watchdog.kill()
            self._watchdog.wait()
            if self._watchdog.stdin is not None:
                self._watchdog.stdin.close()
            self._watchdog = None
        # kube-apiserver first: stopping etcd under it only makes it log connection errors for a while. Its
        # graceful shutdown idles for about a second after it has stopped serving; all state is thrown away
        # anyway, so it gets half a second before SIGKILL.
        for process in reversed(self._processes):
            process.stop(grace=5.0 if process.name == "etcd" else 0.5)
        self._processes.clear()
        if self.work_dir is not None:
            shutil.rmtree(self.work_dir, ignore_errors=True)
            self.work_dir = None
        self._ssl = None
        with _live_lock:
            _live.discard(self)

    # logs

    def log_tail(self, component: str = "kube-apiserver", lines: int = _LOG_TAIL_LINES) -> str:
        """Return the last ``lines`` lines of ``"kube-apiserver"``'s or ``"etcd"``'s log (for debugging)."""
        for process in self._processes:
            if process.name == component:
                return _tail(process.log_path, lines)
        return ""

    # kubeconfigs

    def _write_kubeconfig(self, path: Path, user: str, cert: bytes, key: bytes) -> None:
        assert self._ca is not None
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "envtest",
                    "cluster": {
                        "server": self.server,
                        "certificate-authority-data": base64.b64encode(self._ca.cert_pem).decode(),
                    },
                }
            ],
            "users": [
                {
                    "name": user,
                    "user": {
                        "client-certificate-data": base64.b64encode(cert).decode(),
                        "client-key-data": base64.b64encode(key).decode(),
                    },
                }
            ],
            "contexts": [{"name": "envtest", "context": {"cluster": "envtest", "user": user}}],
            "current-context": "envtest",
            "preferences": {},
        }
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        path.chmod(0o600)

    def kubeconfig_for(self, user: str, groups: Iterable[str] = ()) -> Path:
        """Write a kubeconfig for another user (a client certificate with CN=user, O=groups) and return it.

        The user has no permissions until RBAC grants some, which makes it the way to test ``403 Forbidden``.
        """
        if self._ca is None or self.work_dir is None:
            raise ConfigurationError("envtest Environment is not started")
        cert, key = self._ca.issue(user, organizations=groups)
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", user)
        path = self.work_dir / f"kubeconfig-{safe}-{uuid.uuid4().hex[:8]}"
        self._write_kubeconfig(path, user, cert, key)
        return path

    # a tiny admin client for the harness' own needs

    def _context(self) -> ssl.SSLContext:
        if self._ssl is None:
            context = ssl.create_default_context(cafile=str(self.ca_file))
            context.load_cert_chain(str(self.client_cert_file), str(self.client_key_file))
            self._ssl = context
        return self._ssl

    def request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        content_type: str = "application/json",
        timeout: float = 30.0,
    ) -> tuple[int, str]:
        """Send one request as the admin user and return ``(status, body text)``; no error on 4xx/5xx.

        A low-level escape hatch for tests and for the harness itself; use a real client for anything more.
        """
        if not self.server:
            raise ConfigurationError("envtest Environment is not started")
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self._context(), timeout=timeout)
        try:
            headers = {"Accept": "application/json"}
            payload = None
            if body is not None:
                payload = json.dumps(body).encode()
                headers["Content-Type"] = content_type
            conn.request(method, path, body=payload, headers=headers)
            response = conn.getresponse()
            return response.status, response.read().decode("utf-8", "replace")
        finally:
            conn.close()

    def _request_ok(self, method: str, path: str, body: Mapping[str, Any] | None = None, **kw: Any) -> Any:
        status, text = self.request(method, path, body, **kw)
        if status >= 300:
            raise EnvtestRequestError(method, path, status, text)
        return json.loads(text) if text else None

    # etcd

    def compact_etcd(self) -> int:
        """Compact etcd's history up to its current revision and return that revision.

        Afterwards, requests for an older ``resourceVersion`` that reach etcd (watches that fall out of the
        watch cache, lists with ``resourceVersionMatch=Exact``) get ``410 Gone`` - the way to test
        re-list-on-expiry logic without waiting for the API server's own 5-minute compaction.
        """
        if not self.etcd_url:
            raise ConfigurationError("envtest Environment is not started")
        # etcd's JSON gateway: keys are base64; any range request returns the current revision in its header.
        header = self._etcd("/v3/kv/range", {"key": base64.b64encode(b"/").decode(), "limit": 1})["header"]
        revision = int(header["revision"])
        self._etcd("/v3/kv/compaction", {"revision": revision, "physical": True})
        return revision

    def _etcd(self, path: str, body: Mapping[str, Any]) -> Any:
        host, _, port = self.etcd_url.removeprefix("http://").partition(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
        finally:
            conn.close()
        if response.status != 200:
            raise EnvtestRequestError("POST", f"{self.etcd_url}{path}", response.status, text)
        return json.loads(text)

    # namespaces

    def create_namespace(self, name: str | None = None, *, labels: Mapping[str, str] | None = None) -> str:
        """Create a namespace (default name: ``test-<random>``) and return its name."""
        name = name or f"test-{uuid.uuid4().hex[:10]}"
        metadata: dict[str, Any] = {"name": name}
        if labels:
            metadata["labels"] = dict(labels)
        self._request_ok(
            "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}
        )
        return name

    def delete_namespace(self, name: str) -> None:
        """Delete a namespace (missing is fine).

        Without a controller-manager the namespace only reaches ``Terminating``; its objects stay in etcd
        until the environment stops. Tests therefore use a fresh namespace each instead of reusing names.
        """
        status, text = self.request("DELETE", f"/api/v1/namespaces/{quote(name, safe='')}")
        if status >= 300 and status != 404:
            raise EnvtestRequestError("DELETE", f"/api/v1/namespaces/{name}", status, text)

    # CRDs

    def install_crds(self, paths: Iterable[str | os.PathLike[str]], *, timeout: float = 30.0) -> list[str]:
        """Install (server-side apply) every CustomResourceDefinition in the given YAML/JSON files.

        Directories are expanded to their ``*.yaml``, ``*.yml`` and ``*.json`` files (not recursively);
        documents that are not CRDs are ignored. Waits until each CRD is ``Established`` and its resources are
        served by discovery, so the first request for the new kind does not race the API server.

        Returns:
            The names of the CRDs installed.

        Raises:
            EnvtestRequestError: the API server rejected a CRD.
            CRDNotEstablishedError: a CRD did not become established within ``timeout`` seconds.
        """
        crds = [doc for path in _expand(paths) for doc in _load_documents(path) if _is_crd(doc)]
        for crd in crds:
            name = crd["metadata"]["name"]
            self._request_ok(
                "PATCH",
                f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{quote(name, safe='')}"
                "?fieldManager=reconcilekit-envtest&force=true",
                crd,
                content_type="application/apply-patch+yaml",
            )
        deadline = time.monotonic() + timeout
        for crd in crds:
            self._wait_established(crd, deadline, timeout)
        return [crd["metadata"]["name"] for crd in crds]

    def _wait_established(self, crd: Mapping[str, Any], deadline: float, timeout: float) -> None:
        name = crd["metadata"]["name"]
        spec = crd.get("spec", {})
        group, plural = spec.get("group", ""), spec.get("names", {}).get("plural", "")
        versions = [v["name"] for v in spec.get("versions", []) if v.get("served", True)]
        detail = "no status yet"
        while True:
            current = self._request_ok(
                "GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{quote(name, safe='')}"
            )
            conditions = {c.get("type"): c for c in current.get("status", {}).get("conditions", [])}
            established = conditions.get("Established", {}).get("status") == "True"
            detail = (
                "; ".join(
                    f"{t}={c.get('status')} ({c.get('reason', '')}: {c.get('message', '')})"
                    for t, c in conditions.items()
                )
                or detail
            )
            if established and all(self._served(group, version, plural) for version in versions):
                return
            if time.monotonic() > deadline:
                raise CRDNotEstablishedError(name, timeout, detail)
            time.sleep(0.05)

    def _served(self, group: str, version: str, plural: str) -> bool:
        status, text = self.request("GET", f"/apis/{group}/{version}")
        if status != 200:
            return False
        return any(r.get("name") == plural for r in json.loads(text).get("resources", []))

    # async wrappers (the work is blocking local I/O; a worker thread keeps the event loop free)

    async def create_namespace_async(
        self, name: str | None = None, *, labels: Mapping[str, str] | None = None
    ) -> str:
        """Async :meth:`create_namespace`."""
        return await anyio.to_thread.run_sync(lambda: self.create_namespace(name, labels=labels))

    async def delete_namespace_async(self, name: str) -> None:
        """Async :meth:`delete_namespace`."""
        await anyio.to_thread.run_sync(self.delete_namespace, name)

    async def install_crds_async(self, paths: Iterable[str | os.PathLike[str]]) -> list[str]:
        """Async :meth:`install_crds` (with its default timeout)."""
        paths = list(paths)
        return await anyio.to_thread.run_sync(lambda: self.install_crds(paths))

    def __repr__(self) -> str:
        state = self.server if self.running else "stopped"
        return f"<envtest.Environment {state}>"


def _expand(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(
                p for p in path.iterdir() if p.suffix in (".yaml", ".yml", ".json") and p.is_file()
            )
        else:
            yield path


def _load_documents(path: Path) -> list[Any]:
    try:
        with path.open("rb") as f:
            return [doc for doc in yaml.safe_load_all(f) if doc is not None]
    except OSError as err:
        raise ConfigurationError(f"envtest: cannot read CRD file {path}: {err.strerror}") from err
    except yaml.YAMLError as err:
        raise ConfigurationError(f"envtest: CRD file {path} is not valid YAML: {err}") from err


def _is_crd(doc: Any) -> bool:
    return (
        isinstance(doc, dict)
        and doc.get("kind") == "CustomResourceDefinition"
        and str(doc.get("apiVersion", "")).startswith("apiextensions.k8s.io/")
    )


@contextlib.contextmanager
def start_sync(**kwargs: Any) -> Iterator[Environment]:
    """Start an :class:`Environment` for the ``with`` block and stop it afterwards (also on errors).

    Keyword arguments go to :class:`Environment`. For pytest session fixtures and synchronous code.
    """
    env = Environment(**kwargs)
    env.start()
    try:
        yield env
    finally:
        env.stop()


@contextlib.asynccontextmanager
async def start(**kwargs: Any) -> AsyncIterator[Environment]:
    """Start an :class:`Environment` for the ``async with`` block and stop it afterwards (also on errors).

    Works on asyncio and trio; the blocking start and stop run in a worker thread. Keyword arguments go to
    :class:`Environment`.

    Example::

        from reconcilekit.testing import envtest

        async with envtest.start() as env:
            subprocess.run(["kubectl", "--kubeconfig", str(env.kubeconfig), "get", "ns"], check=True)
    """
    env = Environment(**kwargs)
    # Not cancellable half-way: a cancelled start must still be stopped, which the except below does.
    try:
        await anyio.to_thread.run_sync(env.start)
        yield env
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(env.stop)
