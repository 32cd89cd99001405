"""pytest fixtures with real Git servers on loopback: git daemon, smart HTTP (git http-backend), sshd.

* ``git_server_root`` (session): the directory whose bare repositories every server below serves.
* ``git_daemon`` (session): ``git daemon`` with receive-pack enabled; ``.url("name.git")`` gives
  ``git://127.0.0.1:<port>/name.git``.
* ``git_http_server`` (session): ``git http-backend`` behind a threaded Python HTTP server that requires
  basic auth (``.username``/``.password``) or a bearer token (``.token``); ``.url(name)``.
* ``git_https_server`` (session): the same over TLS with a throw-away CA (``.ca_file``).
* ``git_ssh_server`` (session): Debian's OpenSSH ``sshd`` on a free port, key auth only; ``.url(name)``,
  ``.client_key`` (private key path), ``.known_hosts`` (text), ``.public_key``.
* ``git_repos`` (function): a :class:`GitRepoFactory` that creates bare repositories under the served root and
  commits, tags and pushes to them with the git CLI.

Missing programs (git, sshd, openssl): skipped with the reason outside CI; a failure in CI (``CI=true``), so
real-server tests never vanish silently. Servers listen on 127.0.0.1 only and are stopped afterwards.
"""

from __future__ import annotations

import base64
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ._servers import find_program, free_port, make_tls, running, stop_process, wait_port

__all__ = [
    "GitDaemon",
    "GitHttpServer",
    "GitRepoFactory",
    "GitSshServer",
    "WorkRepo",
    "git_daemon",
    "git_http_server",
    "git_https_server",
    "git_repos",
    "git_server_root",
    "git_ssh_server",
]


# The Debian package that brings each program the fixtures run.
_PACKAGES = {
    "git": "git",
    "git-http-backend": "git",
    "sshd": "openssh-server",
    "ssh-keygen": "openssh-client",
    "gpg": "gnupg",
    "openssl": "openssl",
}


def _require(*programs: str) -> dict[str, str]:
    return {name: find_program(name, package=_PACKAGES.get(name, name)) for name in programs}


def git_env(home: Path | None = None) -> dict[str, str]:
    """An environment for the git CLI isolated from the host's configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_AUTHOR_NAME="Test Author",
        GIT_AUTHOR_EMAIL="author@example.test",
        GIT_COMMITTER_NAME="Test Author",
        GIT_COMMITTER_EMAIL="author@example.test",
        GIT_TERMINAL_PROMPT="0",
    )
    if home is not None:
        env["HOME"] = str(home)
    return env


def run_git(
    *args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None, input: bytes | None = None
) -> str:
    """Run the git CLI with an argument list; return stdout, raise with stderr on failure."""
    result = subprocess.run(
        ["git", *args], cwd=cwd, env=dict(env or git_env()), capture_output=True, input=input, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {result.stderr.decode(errors='replace')}")
    return result.stdout.decode(errors="replace")


class GitDaemon:
    """``git daemon`` serving ``root`` on a free loopback port, fetch and push enabled."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the daemon and wait until it listens."""
        _require("git")
        self.port = free_port()
        self._proc = subprocess.Popen(
            [
                "git",
                "daemon",
                "--reuseaddr",
                "--export-all",
                "--enable=receive-pack",
                "--informative-errors",
                f"--base-path={self.root}",
                "--listen=127.0.0.1",
                f"--port={self.port}",
                str(self.root),
            ],
            env=git_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        wait_port(self.port, self._proc, "git daemon")

    def url(self, name: str) -> str:
        """The ``git://`` URL of repository ``name`` under the root."""
        return f"git://127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        """Stop the daemon."""
        if self._proc is not None:
            stop_process(self._proc)
            self._proc = None


class _GitHttpHandler(BaseHTTPRequestHandler):
    server: _GitHttpd
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # the base class's signature
        pass  # quiet: tests read errors from the client side

    def _authorized(self) -> str | None:
        header = self.headers.get("Authorization", "")
        srv = self.server
        if header.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return None
            if user == srv.username and password == srv.password:
                return user
        if header.startswith("Bearer ") and header[7:] == srv.token:
            return "token-user"
        return None

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        user = self._authorized()
        body = self._body()
        if user is None:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        env = git_env()
        env.update(
            GIT_PROJECT_ROOT=str(self.server.root),
            GIT_HTTP_EXPORT_ALL="1",
            PATH_INFO=path,
            QUERY_STRING=query,
            REQUEST_METHOD=self.command,
            CONTENT_TYPE=self.headers.get("Content-Type", ""),
            CONTENT_LENGTH=str(len(body)),
            REMOTE_USER=user,
            REMOTE_ADDR="127.0.0.1",
        )
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        result = subprocess.run(
            [self.server.backend], input=body, env=env, capture_output=True, check=False, timeout=120
        )
        head, _, payload = result.stdout.partition(b"\r\n\r\n")
        if not _ and b"\n\n" in result.stdout:
            head, _, payload = result.stdout.partition(b"\n\n")
        status = 200
        headers: list[tuple[str, str]] = []
        for line in head.decode(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.strip().split()[0])
            elif key:
                headers.append((key, value.strip()))
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _handle  # noqa: N815  # http.server dispatches on these names
    do_POST = _handle  # noqa: N815


class _GitHttpd(ThreadingHTTPServer):
    daemon_threads = True
    root: Path
    backend: str
    username: str
    password: str
    token: str


class GitHttpServer:
    """Smart HTTP(S) Git server: ``git http-backend`` run per request by a threaded Python HTTP server.

    Every request needs basic auth (``username``/``password``) or ``Authorization: Bearer <token>``. With
    ``tls=True`` it serves HTTPS with a certificate from a throw-away CA (``ca_file``).
    """

    def __init__(self, root: Path, *, tls: bool = False) -> None:
        self.root = root
        self.tls = tls
        self.username = "gituser"
        self.password = "s3cret-" + uuid.uuid4().hex[:8]
        self.token = "tok-" + uuid.uuid4().hex
        self.port = 0
        self.ca_file: Path | None = None
        self._tmp: Path | None = None
        self._httpd: _GitHttpd | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start serving in a background thread."""
        found = _require("git", "git-http-backend", *(["openssl"] if self.tls else []))
        httpd = _GitHttpd(("127.0.0.1", 0), _GitHttpHandler)
        httpd.root = self.root
        httpd.backend = found["git-http-backend"]
        httpd.username, httpd.password, httpd.token = self.username, self.password, self.token
        if self.tls:
            self._tmp = Path(tempfile.mkdtemp(prefix="rk-git-tls-"))
            cert, key, self.ca_file = make_tls(self._tmp)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, name="git-http", daemon=True)
        self._thread.start()
        wait_port(self.port, None, "git http server")

    def url(self, name: str) -> str:
        """The ``http(s)://`` URL of repository ``name`` (no credentials in it)."""
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        """Stop serving."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(5)
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)


class GitSshServer:
    """OpenSSH ``sshd`` on a free loopback port, public-key auth only, serving repositories by path.

    Runs as the current user (root in CI containers) with its own host key, ``authorized_keys`` and config
    under a private temporary directory.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = 0
        self.user = os.environ.get("USER") or _current_user()
        self._tmp: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self.client_key = Path()
        self.public_key = ""
        self.known_hosts = ""
        self.other_key = Path()
        self.other_public_key = ""

    def start(self) -> None:
        """Generate keys, write the config and start ``sshd -D -e``."""
        found = _require("sshd", "ssh-keygen", "git")
        tmp = Path(tempfile.mkdtemp(prefix="rk-sshd-"))
        tmp.chmod(0o700)
        self._tmp = tmp
        keygen = found["ssh-keygen"]
        for name in ("host_key", "client_key", "other_key"):
            subprocess.run(
                [keygen, "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(tmp / name)], check=True
            )
        self.client_key = tmp / "client_key"
        self.other_key = tmp / "other_key"
        self.public_key = (tmp / "client_key.pub").read_text().strip()
        self.other_public_key = (tmp / "other_key.pub").read_text().strip()
        (tmp / "authorized_keys").write_text(self.public_key + "\n")
        (tmp / "authorized_keys").chmod(0o600)
        self.port = free_port()
        host_pub = (tmp / "host_key.pub").read_text().split()
        self.known_hosts = f"[127.0.0.1]:{self.port} {host_pub[0]} {host_pub[1]}\n"
        if os.geteuid() == 0:
            # Debian's sshd insists on its privilege-separation directory.
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        config = tmp / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {tmp / 'host_key'}",
                    f"PidFile {tmp / 'sshd.pid'}",
                    f"AuthorizedKeysFile {tmp / 'authorized_keys'}",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PermitRootLogin prohibit-password",
                    "StrictModes no",
                    "UsePAM no",
                    f"AllowUsers {self.user}",
                    # The server side runs git-upload-pack/git-receive-pack from PATH.
                    "SetEnv GIT_CONFIG_NOSYSTEM=1",
                    "LogLevel ERROR",
                    "",
                ]
            )
        )
        self._proc = subprocess.Popen(
            [found["sshd"], "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        wait_port(self.port, self._proc, "sshd")

    def url(self, name: str) -> str:
        """The ``ssh://`` URL of repository ``name`` under the root."""
        return f"ssh://{self.user}@127.0.0.1:{self.port}{self.root / name}"

    def stop(self) -> None:
        """Stop sshd and remove its keys."""
        if self._proc is not None:
            stop_process(self._proc)
            self._proc = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)


def _current_user() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


class WorkRepo:
    """A bare repository under the served root plus a working clone to commit and push from."""

    def __init__(self, name: str, bare: Path, work: Path, env: dict[str, str]) -> None:
        self.name = name
        self.bare = bare
        self.work = work
        self.env = env

    def git(self, *args: str, input: bytes | None = None) -> str:
        """Run git in the working clone."""
        return run_git(*args, cwd=self.work, env=self.env, input=input)

    def commit(
        self,
        files: Mapping[str, str | bytes | None],
        message: str = "change",
        *,
        sign: str | None = None,
        ssh_sign_key: Path | None = None,
        push: bool = True,
        symlinks: Mapping[str, str] | None = None,
        executable: tuple[str, ...] = (),
    ) -> str:
        """Write (``None`` deletes) files, commit everything and push; return the commit SHA.

        ``sign`` is an OpenPGP key id (GNUPGHOME from the factory env); ``ssh_sign_key`` signs with SSH.
        """
        for rel, content in files.items():
            target = self.work / rel
            if content is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
        for rel, dest in (symlinks or {}).items():
            target = self.work / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(dest)
        for rel in executable:
            (self.work / rel).chmod(0o755)
        self.git("add", "-A")
        args = ["commit", "-q", "--allow-empty", "-m", message]
        cfg: list[str] = []
        if sign is not None:
            cfg = ["-c", f"user.signingkey={sign}", "-c", "gpg.format=openpgp"]
            args.append("-S")
        elif ssh_sign_key is not None:
            cfg = ["-c", f"user.signingkey={ssh_sign_key}", "-c", "gpg.format=ssh"]
            args.append("-S")
        self.git(*cfg, *args)
        sha = self.git("rev-parse", "HEAD").strip()
        if push:
            self.git("push", "-q", "origin", "HEAD")
        return sha

    def tag(
        self, name: str, *, message: str | None = None, sign: str | None = None, ref: str = "HEAD"
    ) -> None:
        """Create a lightweight (no message), annotated or signed tag and push it."""
        if sign is not None:
            self.git("-c", f"user.signingkey={sign}", "tag", "-s", "-m", message or name, name, ref)
        elif message is not None:
            self.git("tag", "-a", "-m", message, name, ref)
        else:
            self.git("tag", name, ref)
        self.git("push", "-q", "origin", f"refs/tags/{name}")

    def head(self, branch: str = "main") -> str:
        """The SHA of ``branch`` in the bare repository."""
        return run_git("--git-dir", str(self.bare), "rev-parse", f"refs/heads/{branch}", env=self.env).strip()


class GitRepoFactory:
    """Creates uniquely named bare repositories under the served root (removed after the test)."""

    def __init__(self, root: Path, scratch: Path) -> None:
        self.root = root
        self.scratch = scratch
        self.home = scratch / "home"
        self.home.mkdir(exist_ok=True)
        self.env = git_env(self.home)
        self.env["GNUPGHOME"] = str(self.home / ".gnupg")
        self.created: list[Path] = []

    def create(self, branch: str = "main", files: Mapping[str, str | bytes] | None = None) -> WorkRepo:
        """A new repository with default branch ``branch``; with ``files``, an initial commit is pushed."""
        name = f"r-{uuid.uuid4().hex[:10]}.git"
        bare = self.root / name
        run_git("init", "-q", "--bare", "-b", branch, str(bare), env=self.env)
        work = self.scratch / name.removesuffix(".git")
        run_git("init", "-q", "-b", branch, str(work), env=self.env)
        run_git("remote", "add", "origin", str(bare), cwd=work, env=self.env)
        self.created.append(bare)
        repo = WorkRepo(name, bare, work, self.env)
        if files is not None:
            repo.commit(files, "initial")
        return repo

    def gpg_key(self, uid: str = "Signer <signer@example.test>") -> tuple[str, str]:
        """Generate an OpenPGP signing key in the factory's GNUPGHOME; return (fingerprint, public key)."""
        _require("gpg")
        gnupg = Path(self.env["GNUPGHOME"])
        gnupg.mkdir(mode=0o700, exist_ok=True)
        subprocess.run(
            ["gpg", "--batch", "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never"],
            env=self.env,
            check=True,
            capture_output=True,
        )
        out = subprocess.run(
            ["gpg", "--batch", "--with-colons", "--list-secret-keys", uid],
            env=self.env,
            check=True,
            capture_output=True,
        ).stdout.decode()
        fpr = next(line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:"))
        public = subprocess.run(
            ["gpg", "--batch", "--armor", "--export", fpr], env=self.env, check=True, capture_output=True
        ).stdout.decode()
        return fpr, public

    def gpg_secret(self, fpr: str) -> str:
        """The armored secret key for ``fpr`` (for :class:`~reconcilekit.git.SigningKey`)."""
        return subprocess.run(
            ["gpg", "--batch", "--armor", "--pinentry-mode", "loopback", "--passphrase", "",
             "--export-secret-keys", fpr],
            env=self.env, check=True, capture_output=True,
        ).stdout.decode()  # fmt: skip

    def ssh_key(self, name: str = "signer") -> tuple[Path, str]:
        """Generate an SSH key; return (private key path, public key line)."""
        found = _require("ssh-keygen")
        path = self.scratch / f"ssh-{name}-{uuid.uuid4().hex[:6]}"
        subprocess.run(
            [found["ssh-keygen"], "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(path)], check=True
        )
        return path, path.with_name(path.name + ".pub").read_text().strip()

    def cleanup(self) -> None:
        """Remove the repositories this factory created and stop any gpg-agent it started."""
        for bare in self.created:
            shutil.rmtree(bare, ignore_errors=True)
        if Path(self.env["GNUPGHOME"]).exists() and shutil.which("gpgconf"):
            subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=self.env, check=False, capture_output=True)


@pytest.fixture(scope="session")
def git_server_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory of bare repositories served by the git daemon, HTTP(S) and SSH fixtures."""
    _require("git")
    return tmp_path_factory.mktemp("git-served")


@pytest.fixture(scope="session")
def git_daemon(git_server_root: Path) -> Iterator[GitDaemon]:
    """A ``git daemon`` (git://) on a free loopback port serving ``git_server_root``."""
    with running(GitDaemon(git_server_root)) as server:
        yield server


@pytest.fixture(scope="session")
def git_http_server(git_server_root: Path) -> Iterator[GitHttpServer]:
    """Smart HTTP with basic/bearer auth (git http-backend) on a free loopback port."""
    with running(GitHttpServer(git_server_root)) as server:
        yield server


@pytest.fixture(scope="session")
def git_https_server(git_server_root: Path) -> Iterator[GitHttpServer]:
    """Smart HTTPS with a throw-away CA (``.ca_file``) and basic/bearer auth."""
    with running(GitHttpServer(git_server_root, tls=True)) as server:
        yield server


@pytest.fixture(scope="session")
def git_ssh_server(git_server_root: Path) -> Iterator[GitSshServer]:
    """OpenSSH sshd with key auth on a free loopback port, serving ``git_server_root`` by absolute path."""
    with running(GitSshServer(git_server_root)) as server:
        yield server


@pytest.fixture
def git_repos(git_server_root: Path, tmp_path: Path) -> Iterator[GitRepoFactory]:
    """Create served repositories and commit to them (see :class:`GitRepoFactory`)."""
    factory = GitRepoFactory(git_server_root, tmp_path)
    try:
        yield factory
    finally:
        factory.cleanup()
