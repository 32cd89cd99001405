"""pytest fixtures with a real container registry on loopback: Debian's ``docker-registry`` (distribution v2).

* ``registry_server`` (session): plain HTTP on ``127.0.0.1:<free port>``, no auth.
* ``registry_server_tls`` (session): HTTPS with a throw-away CA (``.ca_file``) and htpasswd (bcrypt) basic
  auth (``.username`` / ``.password``).
* ``registry_server_token`` (session): bearer-token auth (distribution's ``auth: token``) backed by a
  :class:`TokenServer` on loopback that signs ES256 JWTs with a throw-away key.

Both are :class:`RegistryServer` objects whose :meth:`RegistryServer.push` uploads a small image (a config
blob, one layer, an OCI or Docker schema 2 manifest) under one or more tags through the registry's HTTP API,
so tests need no Docker daemon or skopeo.

Programs used: ``docker-registry`` (Debian package ``docker-registry``), ``htpasswd`` (``apache2-utils``) and
``openssl``. When one is missing the fixture skips with the reason outside CI and fails in CI (``CI=true``),
so registry tests never vanish silently. The server listens on 127.0.0.1 only and is stopped afterwards.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest

from ._servers import find_program, free_port, make_tls, openssl, running

__all__ = ["RegistryServer", "TokenServer", "registry_server", "registry_server_tls", "registry_server_token"]

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
_LAYER = b"reconcilekit test layer\n"


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class RegistryServer:
    """A running ``docker-registry`` process and a small client to push test images into it.

    Attributes:
        url: base URL, ``http://127.0.0.1:<port>`` or ``https://127.0.0.1:<port>``.
        host: ``127.0.0.1:<port>``, the registry part of image names.
        username, password: the htpasswd credentials, or ``None`` without auth.
        ca_file: the CA certificate to trust for HTTPS, or ``None``.
    """

    def __init__(
        self,
        binary: str,
        workdir: Path,
        *,
        tls: tuple[Path, Path, Path] | None = None,
        htpasswd: Path | None = None,
        username: str | None = None,
        password: str | None = None,
        token_server: TokenServer | None = None,
    ) -> None:
        self.workdir = workdir
        self.username = username
        self.password = password
        self.token_server = token_server
        self.ca_file = tls[2] if tls else None
        self._process: subprocess.Popen[bytes] | None = None
        self._binary = binary
        self._tls = tls
        self._htpasswd = htpasswd
        self._pushed_blobs: set[tuple[str, str]] = set()
        self.port = 0
        self.url = ""
        self.host = ""

    def _config(self, port: int) -> str:
        lines = [
            "version: 0.1",
            "log:",
            "  level: error",
            "  accesslog:",
            "    disabled: true",
            "storage:",
            "  filesystem:",
            f"    rootdirectory: {self.workdir / 'data'}",
            "  delete:",
            "    enabled: true",
            "http:",
            f"  addr: 127.0.0.1:{port}",
            "  secret: reconcilekit-test-secret",
        ]
        if self._tls:
            lines += ["  tls:", f"    certificate: {self._tls[0]}", f"    key: {self._tls[1]}"]
        if self._htpasswd:
            lines += ["auth:", "  htpasswd:", "    realm: reconcilekit-test", f"    path: {self._htpasswd}"]
        if self.token_server:
            ts = self.token_server
            lines += [
                "auth:",
                "  token:",
                f"    realm: {ts.url}/token",
                f"    service: {ts.service}",
                f"    issuer: {ts.issuer}",
                f"    rootcertbundle: {ts.cert_file}",
            ]
        return "\n".join(lines) + "\n"

    def start(self) -> None:
        """Start the registry on a free port and wait until it answers ``/v2/``."""
        last = ""
        for _ in range(5):  # a free port can be taken between probing and binding; try another
            port = free_port()
            config = self.workdir / "config.yml"
            config.write_text(self._config(port))
            log = (self.workdir / "registry.log").open("wb")
            # The Debian service file sets no environment the binary needs; clear REGISTRY_* overrides.
            env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
            proc = subprocess.Popen([self._binary, "serve", str(config)], stdout=log, stderr=log, env=env)
            log.close()
            scheme = "https" if self._tls else "http"
            self.port, self.host, self.url = port, f"127.0.0.1:{port}", f"{scheme}://127.0.0.1:{port}"
            self._process = proc
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    status, _, _ = self._http("GET", "/v2/", auth=False)
                except OSError:
                    time.sleep(0.05)
                    continue
                if status in (200, 401):
                    return
            last = (self.workdir / "registry.log").read_text(errors="replace")[-2000:]
            self.stop()
        raise RuntimeError(f"docker-registry did not start: {last}")

    def stop(self) -> None:
        """Stop the registry process."""
        proc, self._process = self._process, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    # -- a tiny push client (the registry's HTTP API, nothing else) ----------------------------------------

    def _http(
        self,
        method: str,
        path_or_url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        auth: bool = True,
    ) -> tuple[int, Mapping[str, str], bytes]:
        url = urljoin(self.url + "/", path_or_url)
        req = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))  # noqa: S310 - loopback test server
        if auth and self.token_server is not None:
            m = re.search(r"/v2/(.+?)/(?:blobs|manifests|tags)/", url)
            if m is not None:
                scope = f"repository:{m[1]}:pull,push"
                req.add_header(
                    "Authorization", f"Bearer {self.token_server.issue(self.username or '', scope)}"
                )
        elif auth and self.username is not None:
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            req.add_header("Authorization", f"Basic {token}")
        context = ssl.create_default_context(cafile=str(self.ca_file)) if self.ca_file else None
        try:
            with urllib.request.urlopen(req, timeout=10, context=context) as resp:  # noqa: S310
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def _expect(self, result: tuple[int, Mapping[str, str], bytes], *ok: int, what: str) -> Mapping[str, str]:
        status, headers, body = result
        if status not in ok:
            raise RuntimeError(f"registry {what}: HTTP {status}: {body[:300]!r}")
        return headers

    def push_blob(self, repository: str, data: bytes) -> str:
        """Upload ``data`` as a blob of ``repository`` (POST then PUT); return its digest."""
        digest = _sha256(data)
        if (repository, digest) in self._pushed_blobs:
            return digest
        headers = self._expect(
            self._http("POST", f"/v2/{repository}/blobs/uploads/"), 202, what=f"start upload to {repository}"
        )
        location = headers.get("Location") or headers.get("location") or ""
        sep = "&" if "?" in location else "?"
        self._expect(
            self._http(
                "PUT",
                f"{location}{sep}digest={digest}",
                body=data,
                headers={"Content-Type": "application/octet-stream"},
            ),
            201,
            what=f"finish upload to {repository}",
        )
        self._pushed_blobs.add((repository, digest))
        return digest

    def manifest_for(self, repository: str, label: str, media_type: str = OCI_MANIFEST) -> bytes:
        """Upload the blobs of a small image labelled ``label`` and return its manifest (not yet tagged)."""
        config: dict[str, Any] = {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Labels": {"org.reconcilekit.test": label}},
            "rootfs": {"type": "layers", "diff_ids": [_sha256(_LAYER)]},
        }
        config_bytes = json.dumps(config, sort_keys=True).encode()
        config_digest = self.push_blob(repository, config_bytes)
        layer_digest = self.push_blob(repository, _LAYER)
        docker = media_type == DOCKER_MANIFEST
        manifest = {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json"
                if docker
                else "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": len(config_bytes),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip"
                    if docker
                    else "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer_digest,
                    "size": len(_LAYER),
                }
            ],
        }
        return json.dumps(manifest, sort_keys=True).encode()

    def put_manifest(self, repository: str, tag: str, manifest: bytes, media_type: str = OCI_MANIFEST) -> str:
        """Tag ``manifest`` as ``repository:tag``; return the digest the registry reports."""
        headers = self._expect(
            self._http(
                "PUT",
                f"/v2/{repository}/manifests/{tag}",
                body=manifest,
                headers={"Content-Type": media_type},
            ),
            201,
            what=f"put manifest {repository}:{tag}",
        )
        return headers.get("Docker-Content-Digest") or _sha256(manifest)

    def push(
        self,
        repository: str,
        tags: str | Sequence[str],
        *,
        distinct: bool = True,
        media_type: str = OCI_MANIFEST,
    ) -> dict[str, str]:
        """Push an image under each of ``tags``; return tag → manifest digest.

        With ``distinct`` (the default) every tag gets its own image (and digest); without it all tags point
        at one manifest, which is much faster for pushing hundreds of tags.
        """
        names = [tags] if isinstance(tags, str) else list(tags)
        digests: dict[str, str] = {}
        shared = None if distinct else self.manifest_for(repository, "shared", media_type)
        for tag in names:
            manifest = shared if shared is not None else self.manifest_for(repository, tag, media_type)
            digests[tag] = self.put_manifest(repository, tag, manifest, media_type)
        return digests

    def unique_repository(self, prefix: str = "test") -> str:
        """A repository name no other test uses."""
        return f"{prefix}/{uuid.uuid4().hex[:12]}"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _der_ecdsa_to_raw(der: bytes) -> bytes:
    # openssl emits ECDSA-Sig-Value (SEQUENCE of two INTEGERs); JWS ES256 wants r || s, 32 bytes each.
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        out += der[i + 2 : i + 2 + n].lstrip(b"\x00").rjust(32, b"\x00")
        i += 2 + n
    return out


class TokenServer:
    """A Docker registry token service (distribution's ``auth: token``) on loopback, for bearer-flow tests.

    ``GET /token?service=…&scope=repository:<name>:<actions>`` with basic auth (``users``) answers
    ``{"token": <JWT>}``: ES256, signed with a throw-away key whose certificate (``cert_file``) the registry
    trusts through ``rootcertbundle``; the certificate travels in the JWT's ``x5c`` header. Every request is
    recorded in ``requests`` (path and query) so tests can see the flow.
    """

    def __init__(self, workdir: Path, users: Mapping[str, str]) -> None:
        self.workdir = workdir
        self.users = dict(users)
        self.service = "rk-test-registry"
        self.issuer = "rk-test-issuer"
        self.key_file = workdir / "token.key"
        self.cert_file = workdir / "token.pem"
        self.requests: list[str] = []
        openssl(
            "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(self.key_file), cwd=workdir
        )
        openssl("req", "-x509", "-new", "-key", str(self.key_file), "-subj", "/CN=rk-token-issuer",
                 "-days", "2", "-out", str(self.cert_file), cwd=workdir)  # fmt: skip
        der = subprocess.run(
            ["openssl", "x509", "-in", str(self.cert_file), "-outform", "DER"],
            check=True,
            capture_output=True,
        ).stdout
        self._x5c = base64.b64encode(der).decode()
        self._httpd: ThreadingHTTPServer | None = None
        self.url = ""

    def issue(self, subject: str, *scopes: str) -> str:
        """A signed token granting ``scopes`` (``repository:<name>:pull,push``) to ``subject``."""
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": [a for a in actions.split(",") if a]})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "ES256", "x5c": [self._x5c]}
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        der = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(self.key_file)],
            input=signing_input.encode(),
            check=True,
            capture_output=True,
        ).stdout
        return f"{signing_input}.{_b64url(_der_ecdsa_to_raw(der))}"

    def start(self) -> None:
        """Serve on a free loopback port."""
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                server.requests.append(self.path)
                query = parse_qs(parts.query)
                auth = self.headers.get("Authorization", "")
                user = None
                if auth.startswith("Basic "):
                    name, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                    if server.users.get(name) == password:
                        user = name
                if parts.path != "/token" or user is None or query.get("service") != [server.service]:
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                token = server.issue(user, *query.get("scope", []))
                body = json.dumps({"token": token, "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Stop serving."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None


@pytest.fixture(scope="session")
def registry_server() -> Iterator[RegistryServer]:
    """A plain-HTTP ``docker-registry`` on loopback without auth (session-scoped; use unique repositories)."""
    binary = find_program("docker-registry", package="docker-registry")
    with (
        tempfile.TemporaryDirectory(prefix="rk-registry-") as tmp,
        running(RegistryServer(binary, Path(tmp))) as server,
    ):
        yield server


@pytest.fixture(scope="session")
def registry_server_token() -> Iterator[RegistryServer]:
    """``docker-registry`` (plain HTTP) with bearer-token auth from a :class:`TokenServer`.

    The token service is ``.token_server``; its credentials are ``.username`` / ``.password``.
    """
    binary = find_program("docker-registry", package="docker-registry")
    find_program("openssl", package="openssl")
    with tempfile.TemporaryDirectory(prefix="rk-registry-token-") as tmp:
        root = Path(tmp)
        username, password = "rk-bot", "rk-token-" + uuid.uuid4().hex[:8]
        with (
            running(TokenServer(root, {username: password})) as tokens,
            running(
                RegistryServer(binary, root, username=username, password=password, token_server=tokens)
            ) as server,
        ):
            yield server


@pytest.fixture(scope="session")
def registry_server_tls() -> Iterator[RegistryServer]:
    """``docker-registry`` over HTTPS (throw-away CA in ``.ca_file``) with htpasswd basic auth."""
    binary = find_program("docker-registry", package="docker-registry")
    htpasswd_bin = find_program("htpasswd", package="apache2-utils")
    find_program("openssl", package="openssl")
    with tempfile.TemporaryDirectory(prefix="rk-registry-tls-") as tmp:
        root = Path(tmp)
        tls = make_tls(root, ca_name="rk-registry-test-ca")
        username, password = "rk-user", "rk-secret-" + uuid.uuid4().hex[:8]
        htpasswd = root / "htpasswd"
        out = subprocess.run(
            [htpasswd_bin, "-Bbn", username, password], check=True, capture_output=True, text=True
        ).stdout
        htpasswd.write_text(out.strip() + "\n")
        with running(
            RegistryServer(binary, root, tls=tls, htpasswd=htpasswd, username=username, password=password)
        ) as server:
            yield server
