"""RegistryClient against a real docker-registry (plain, TLS + htpasswd) and loopback stubs for failures."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import web

from reconcilekit import ConfigurationError, TemporaryError, TerminalError
from reconcilekit.images import (
    ImageRepository,
    ManifestNotFound,
    RegistryAuth,
    RegistryAuthError,
    RegistryClient,
    RegistryError,
    RegistryResponseError,
    RegistryUnreachable,
    RepositoryNotFound,
)
from reconcilekit.testing._fixtures_registry import DOCKER_MANIFEST, RegistryServer

pytestmark = pytest.mark.anyio


# -- real registry ----------------------------------------------------------------------------------------


async def test_list_tags_and_exclusions(registry_server: RegistryServer) -> None:
    repo = registry_server.unique_repository()
    registry_server.push(repo, ["1.0.0", "1.1.0", "sha256-abc.sig", "latest"], distinct=False)
    async with RegistryClient(registry_server.url) as client:
        tags = await client.list_tags(repo)
        assert sorted(tags) == ["1.0.0", "1.1.0", "latest"]
        everything = await client.list_tags(repo, exclusion_list=[])
        assert "sha256-abc.sig" in everything
        only_semver = await client.list_tags(repo, exclusion_list=[r"^latest$", r"\.sig$"])
        assert sorted(only_semver) == ["1.0.0", "1.1.0"]


async def test_pagination_with_many_tags(registry_server: RegistryServer) -> None:
    repo = registry_server.unique_repository("many")
    tags = [f"1.{i}.0" for i in range(120)]
    registry_server.push(repo, tags, distinct=False)
    async with RegistryClient(registry_server.url, page_size=25) as client:
        got = await client.list_tags(repo)
    assert sorted(got) == sorted(tags)
    assert len(got) == len(set(got)) == 120


async def test_resolve_digest_matches_pushed_manifest(registry_server: RegistryServer) -> None:
    repo = registry_server.unique_repository()
    pushed = registry_server.push(repo, ["v1", "v2"])
    docker = registry_server.push(repo, "v3-docker", media_type=DOCKER_MANIFEST)
    assert pushed["v1"] != pushed["v2"]
    async with RegistryClient(registry_server.url) as client:
        assert await client.resolve_digest(repo, "v1") == pushed["v1"]
        assert await client.resolve_digest(repo, "v2") == pushed["v2"]
        assert await client.resolve_digest(repo, "v3-docker") == docker["v3-docker"]
        with pytest.raises(ManifestNotFound) as exc:
            await client.resolve_digest(repo, "nope")
        assert repo in str(exc.value)
        assert "nope" in str(exc.value)


async def test_unknown_repository_is_typed(registry_server: RegistryServer) -> None:
    async with RegistryClient(registry_server.url) as client:
        with pytest.raises(RepositoryNotFound) as exc:
            await client.list_tags("does/not-exist")
    err = exc.value
    assert isinstance(err, TerminalError)
    assert isinstance(err, RegistryError)
    assert err.repository == "does/not-exist"
    assert registry_server.url in str(err)


async def test_tls_with_htpasswd(registry_server_tls: RegistryServer) -> None:
    srv = registry_server_tls
    repo = srv.unique_repository("secure")
    pushed = srv.push(repo, ["2.0.0", "2.1.0"])
    assert srv.ca_file is not None
    assert srv.username
    assert srv.password
    auth = RegistryAuth(srv.username, srv.password)
    async with RegistryClient(srv.host, auth=auth, ca_file=srv.ca_file) as client:
        assert client.url.startswith("https://")
        assert sorted(await client.list_tags(repo)) == ["2.0.0", "2.1.0"]
        assert await client.resolve_digest(repo, "2.1.0") == pushed["2.1.0"]
    # Wrong password: a terminal auth error naming the registry, never the password.
    async with RegistryClient(srv.host, auth=RegistryAuth(srv.username, "wrong"), ca_file=srv.ca_file) as bad:
        with pytest.raises(RegistryAuthError) as exc:
            await bad.list_tags(repo)
    assert "wrong" not in str(exc.value)
    assert srv.host in str(exc.value)
    # No credentials at all.
    async with RegistryClient(srv.host, ca_file=srv.ca_file) as anonymous:
        with pytest.raises(RegistryAuthError, match="none configured"):
            await anonymous.list_tags(repo)
    # Credentials inline in the URL are used and redacted from errors.
    url = f"https://{srv.username}:{srv.password}@{srv.host}"
    async with RegistryClient(url, ca_file=srv.ca_file) as inline:
        assert sorted(await inline.list_tags(repo)) == ["2.0.0", "2.1.0"]
        with pytest.raises(RepositoryNotFound) as missing:
            await inline.list_tags("no/such-repo")
    assert srv.password not in str(missing.value)


async def test_tls_without_the_ca_is_unreachable_not_retried(registry_server_tls: RegistryServer) -> None:
    srv = registry_server_tls
    assert srv.username
    assert srv.password
    started = time.monotonic()
    async with RegistryClient(srv.host, auth=RegistryAuth(srv.username, srv.password), backoff=1) as client:
        with pytest.raises(RegistryUnreachable, match="TLS"):
            await client.list_tags("any/repo")
    assert time.monotonic() - started < 1  # certificate errors are not retried


# -- configuration ----------------------------------------------------------------------------------------


def test_plain_http_only_for_loopback_or_insecure() -> None:
    with pytest.raises(ConfigurationError, match="plain HTTP"):
        RegistryClient("http://registry.example")
    assert RegistryClient("http://registry.example", insecure=True).url == "http://registry.example"
    assert RegistryClient("http://127.0.0.1:5000").url == "http://127.0.0.1:5000"
    assert RegistryClient("http://localhost:5000").url == "http://localhost:5000"
    assert RegistryClient("http://[::1]:5000").url == "http://[::1]:5000"
    assert RegistryClient("registry.example").url == "https://registry.example"
    with pytest.raises(ConfigurationError):
        RegistryClient("ftp://registry.example")
    with pytest.raises(ConfigurationError, match="exclusion"):
        RegistryClient("registry.example", exclusion_list=["(?=lookahead)"])
    with pytest.raises(ConfigurationError, match="not a host"):
        RegistryClient("registry.example:notaport")
    with pytest.raises(ConfigurationError, match="CA certificates"):
        RegistryClient("registry.example", ca_file="/nonexistent/ca.pem")


def test_auth_repr_hides_password() -> None:
    assert "s3cret" not in repr(RegistryAuth("bob", "s3cret"))


@pytest.mark.parametrize(
    ("image", "registry", "repository"),
    [
        ("ghcr.io/org/app", "ghcr.io", "org/app"),
        ("127.0.0.1:5000/app", "127.0.0.1:5000", "app"),
        ("localhost/team/app", "localhost", "team/app"),
        ("nginx", "registry-1.docker.io", "library/nginx"),
        ("bitnami/nginx", "registry-1.docker.io", "bitnami/nginx"),
        ("docker.io/nginx", "registry-1.docker.io", "library/nginx"),
    ],
)
def test_image_repository_split(image: str, registry: str, repository: str) -> None:
    ref = ImageRepository(image)
    assert (ref.registry, ref.repository) == (registry, repository)


def test_invalid_repository_name() -> None:
    with pytest.raises(ConfigurationError):
        ImageRepository("ghcr.io/Org/App")


# -- loopback stubs for what a healthy registry never answers ---------------------------------------------

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Stub = Callable[[Handler], Awaitable[str]]


@pytest.fixture
async def stub() -> AsyncIterator[Stub]:
    """Start an aiohttp server on 127.0.0.1 answering every request with a handler; yields a starter."""
    runners: list[web.AppRunner] = []

    async def start(handler: Handler) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


async def test_5xx_is_retried_then_succeeds(stub: Stub) -> None:
    calls = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        if calls < 3:
            return web.Response(status=503, text="busy")
        return web.json_response({"name": "app", "tags": ["1.0.0"]})

    url = await stub(handler)
    async with RegistryClient(url, backoff=0.01) as client:
        assert await client.list_tags("app") == ["1.0.0"]
    assert calls == 3


async def test_5xx_retries_are_bounded(stub: Stub) -> None:
    calls = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        return web.Response(status=500, text="boom")

    url = await stub(handler)
    async with RegistryClient(url, retries=2, backoff=0.01) as client:
        with pytest.raises(RegistryUnreachable) as exc:
            await client.list_tags("team/app")
    assert calls == 3
    assert isinstance(exc.value, TemporaryError)
    assert "HTTP 500" in str(exc.value)
    assert url in str(exc.value)
    assert "team/app" in str(exc.value)


async def test_timeout_is_retried_then_unreachable(stub: Stub) -> None:
    calls = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        await asyncio.sleep(1)
        return web.json_response({"tags": []})

    url = await stub(handler)
    async with RegistryClient(url, timeout=0.2, retries=1, backoff=0.01) as client:
        with pytest.raises(RegistryUnreachable, match="timed out"):
            await client.list_tags("app")
    assert calls == 2


async def test_connection_refused_is_unreachable() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with RegistryClient(f"http://127.0.0.1:{port}", retries=1, backoff=0.01) as client:
        with pytest.raises(RegistryUnreachable, match=f"127.0.0.1:{port}"):
            await client.list_tags("app")


@pytest.mark.parametrize(
    "body",
    [b"<html>proxy error</html>", b'["not", "an", "object"]', b'{"tags": "1.0"}', b'{"tags": [1, 2]}'],
)
async def test_garbage_json_is_typed(stub: Stub, body: bytes) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    url = await stub(handler)
    async with RegistryClient(url) as client:
        with pytest.raises(RegistryResponseError) as exc:
            await client.list_tags("team/app")
    assert "team/app" in str(exc.value)
    assert url in str(exc.value)


async def test_null_tags_is_empty(stub: Stub) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"name": "app", "tags": None})

    async with RegistryClient(await stub(handler)) as client:
        assert await client.list_tags("app") == []


async def test_bearer_token_flow(stub: Stub) -> None:
    seen: list[tuple[str, str | None, str]] = []

    async def handler(request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization")
        seen.append((request.path, auth, request.query_string))
        if request.path == "/token":
            if auth != "Basic Ym90OnMzY3JldA==":  # bot:s3cret
                return web.Response(status=401)
            assert request.query.get("service") == "stub-registry"
            assert request.query.get("scope") == "repository:team/app:pull"
            return web.json_response({"access_token": "tok-123"})
        if auth != "Bearer tok-123":
            realm = f"http://{request.host}/token"
            challenge = f'Bearer realm="{realm}",service="stub-registry",scope="repository:team/app:pull"'
            return web.Response(status=401, headers={"WWW-Authenticate": challenge})
        if request.query.get("last") is None:
            link = '</v2/team/app/tags/list?last=b&n=2>; rel="next"'
            return web.json_response({"tags": ["a", "b"]}, headers={"Link": link})
        return web.json_response({"tags": ["c"]})

    url = await stub(handler)
    async with RegistryClient(url, auth=RegistryAuth("bot", "s3cret")) as client:
        assert await client.list_tags("team/app") == ["a", "b", "c"]
    # One challenge, one token request, then both pages with the token (it is cached).
    assert [p for p, _, _ in seen] == ["/v2/team/app/tags/list", "/token", *["/v2/team/app/tags/list"] * 2]

    async with RegistryClient(url, auth=RegistryAuth("bot", "wrong")) as bad:
        with pytest.raises(RegistryAuthError, match="token service"):
            await bad.list_tags("team/app")


async def test_rejected_token_is_auth_error(stub: Stub) -> None:
    async def handler(request: web.Request) -> web.Response:
        if request.path == "/token":
            return web.json_response({"token": "never-accepted"})
        challenge = f'Bearer realm="http://{request.host}/token",service="s"'
        return web.Response(status=401, headers={"WWW-Authenticate": challenge})

    async with RegistryClient(await stub(handler)) as client:
        with pytest.raises(RegistryAuthError, match="401"):
            await client.list_tags("app")


async def test_token_realm_over_plain_http_elsewhere_is_refused(
    stub: Stub,
) -> None:
    async def handler(request: web.Request) -> web.Response:
        challenge = 'Bearer realm="http://auth.example/token",service="s"'
        return web.Response(status=401, headers={"WWW-Authenticate": challenge})

    async with RegistryClient(await stub(handler), auth=RegistryAuth("u", "p")) as client:
        with pytest.raises(RegistryAuthError, match="plain HTTP"):
            await client.list_tags("app")


async def test_forbidden_is_auth_error(stub: Stub) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=403)

    async with RegistryClient(await stub(handler)) as client:
        with pytest.raises(RegistryAuthError, match="403"):
            await client.list_tags("app")


async def test_pagination_loop_and_foreign_links_are_refused(
    stub: Stub,
) -> None:
    async def looping(request: web.Request) -> web.Response:
        return web.json_response({"tags": ["x"]}, headers={"Link": '</v2/app/tags/list>; rel="next"'})

    async with RegistryClient(await stub(looping)) as client:
        with pytest.raises(RegistryResponseError, match="pagination"):
            await client.list_tags("app")

    async def foreign(request: web.Request) -> web.Response:
        link = '<http://evil.example/v2/app/tags/list?last=x>; rel="next"'
        return web.json_response({"tags": ["x"]}, headers={"Link": link})

    async with RegistryClient(await stub(foreign)) as client:
        with pytest.raises(RegistryResponseError, match="leaves the registry"):
            await client.list_tags("app")


async def test_digest_by_hashing_when_header_missing(stub: Stub) -> None:
    manifest = json.dumps({"schemaVersion": 2}).encode()

    async def handler(request: web.Request) -> web.Response:
        assert "application/vnd.oci.image.index.v1+json" in request.headers["Accept"]
        return web.Response(body=manifest, content_type="application/vnd.oci.image.manifest.v1+json")

    import hashlib

    async with RegistryClient(await stub(handler)) as client:
        digest = await client.resolve_digest("app", "1.0")
    assert digest == "sha256:" + hashlib.sha256(manifest).hexdigest()


async def test_bearer_token_flow_against_the_real_registry(registry_server_token: RegistryServer) -> None:
    srv = registry_server_token
    assert srv.token_server is not None
    assert srv.username is not None
    assert srv.password is not None
    repo = srv.unique_repository("token")
    pushed = srv.push(repo, ["3.0.0", "3.1.0", "3.1.0.sig"])
    srv.token_server.requests.clear()
    async with RegistryClient(srv.url, auth=RegistryAuth(srv.username, srv.password), page_size=1) as client:
        assert sorted(await client.list_tags(repo)) == ["3.0.0", "3.1.0"]
        assert await client.resolve_digest(repo, "3.1.0") == pushed["3.1.0"]
    # One token for the repository's pull scope, reused for every page and the digest request.
    assert len(srv.token_server.requests) == 1
    query = parse_qs(urlsplit(srv.token_server.requests[0]).query)
    assert query == {"service": ["rk-test-registry"], "scope": [f"repository:{repo}:pull"]}

    async with RegistryClient(srv.url, auth=RegistryAuth(srv.username, "wrong")) as bad:
        with pytest.raises(RegistryAuthError, match="token service"):
            await bad.list_tags(repo)


async def test_429_honours_retry_after(stub: Stub) -> None:
    calls: list[float] = []

    async def handler(request: web.Request) -> web.Response:
        calls.append(time.monotonic())
        if len(calls) == 1:
            return web.Response(status=429, headers={"Retry-After": "0.3"})
        return web.json_response({"tags": ["1.0.0"]})

    async with RegistryClient(await stub(handler), backoff=0.001) as client:
        assert await client.list_tags("app") == ["1.0.0"]
    assert len(calls) == 2
    assert calls[1] - calls[0] >= 0.25
