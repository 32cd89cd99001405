"""Registry scanning: list a repository's tags and resolve tags to digests over the OCI distribution API.

This is the first step of image automation: :class:`RegistryClient` asks a registry for tags
(``GET /v2/<name>/tags/list``, following ``Link: <…>; rel="next"`` pages), answering the registry's auth
challenge (``WWW-Authenticate: Bearer realm=…`` → token, or ``Basic``), and drops tags matching the exclusion
list (by default cosign's ``.sig`` tags, as Flux's ImageRepository does). Policies then pick a tag.

Transient failures (connection errors, timeouts, 5xx, 429) are retried a bounded number of times with
exponential backoff, then raised as :class:`~reconcilekit.images.RegistryUnreachable`. aiohttp is the HTTP
client, so the client runs on asyncio.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import re
import ssl
from collections.abc import Mapping, Sequence
from os import PathLike
from types import TracebackType
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import aiohttp
import anyio
import attrs
from multidict import CIMultiDict

from .._errors import ConfigurationError, redact_url
from ._errors import (
    ManifestNotFound,
    RegistryAuthError,
    RegistryResponseError,
    RegistryUnreachable,
    RepositoryNotFound,
)
from ._regex import RE2SyntaxError, compile_re2

__all__ = [
    "DEFAULT_EXCLUSION_LIST",
    "MANIFEST_MEDIA_TYPES",
    "ImageRepository",
    "RegistryAuth",
    "RegistryClient",
]

DEFAULT_EXCLUSION_LIST: tuple[str, ...] = (r"^.*\.sig$",)
"""Tags dropped from every scan unless configured otherwise: cosign signatures (Flux's default)."""

MANIFEST_MEDIA_TYPES: tuple[str, ...] = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
"""The manifest types asked for when resolving a tag to its digest (indexes first, as a multi-arch pull)."""

_DOCKER_HUB = "registry-1.docker.io"
_MAX_PAGES = 100_000
_MAX_BACKOFF = 30.0
_LINK_NEXT = re.compile(r'<([^>]*)>\s*;[^,]*?rel="?next"?', re.IGNORECASE)
_AUTH_PARAM = re.compile(r'([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))')
_DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+\Z")
_REPOSITORY = re.compile(
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*\Z"
)
_TAG = re.compile(r"[\w][\w.-]{0,127}\Z", re.ASCII)


@attrs.frozen(repr=False)
class RegistryAuth:
    """User name and password (or token) for a registry; the password never appears in a repr."""

    username: str
    password: str

    def __repr__(self) -> str:
        return f"RegistryAuth(username={self.username!r}, password='***')"


@attrs.frozen
class ImageRepository:
    """An image name split into registry host and repository path, as Docker reads it.

    ``ghcr.io/org/app`` → ``ghcr.io`` + ``org/app``; ``127.0.0.1:5000/app`` → ``127.0.0.1:5000`` + ``app``;
    ``nginx`` → Docker Hub (``registry-1.docker.io``) + ``library/nginx``.
    """

    image: str
    registry: str = attrs.field(init=False)
    repository: str = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        first, slash, rest = self.image.partition("/")
        if slash and ("." in first or ":" in first or first == "localhost"):
            registry, repository = first, rest
        else:
            registry, repository = _DOCKER_HUB, self.image if slash else f"library/{self.image}"
        if registry in ("docker.io", "index.docker.io"):
            registry = _DOCKER_HUB
            if "/" not in repository:
                repository = f"library/{repository}"
        if not _REPOSITORY.match(repository):
            raise ConfigurationError(f"invalid image repository {self.image!r}")
        object.__setattr__(self, "registry", registry)
        object.__setattr__(self, "repository", repository)


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@attrs.frozen
class _Response:
    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str


class _RetryableStatus(Exception):  # noqa: N818 - internal control flow, never escapes this module
    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(status)
        self.status = status
        self.retry_after = retry_after


class RegistryClient:
    """Talks to one container registry over the OCI distribution API.

    Args:
        registry: ``host[:port]`` or a URL (``https://host:port``). Without a scheme HTTPS is used; plain
            ``http://`` is allowed only for a loopback host or when ``insecure`` is true. Credentials written
            in the URL (``https://user:token@host``) are used as ``auth``.
        auth: user name and password (or token) for basic auth and for the bearer-token service.
        ca_file: PEM file with the CA certificates to trust (instead of the system store).
        ca_data: the same, as PEM text.
        insecure: allow plain HTTP to a non-loopback host (Flux's ``spec.insecure``).
        timeout: seconds for one HTTP request, connect included.
        retries: how many times a request that failed temporarily (connection error, timeout, 429, 5xx) is
            retried before :class:`~reconcilekit.images.RegistryUnreachable`.
        backoff: first retry delay in seconds; it doubles each time (up to 30 s, or the ``Retry-After``).
        page_size: tags per page (``?n=``); ``None`` lets the registry choose.
        exclusion_list: RE2 patterns; matching tags are dropped from :meth:`list_tags`.

    Use it as an async context manager, or call :meth:`aclose`.

    Example::

        async with RegistryClient("ghcr.io", auth=RegistryAuth("bot", token)) as client:
            tags = await client.list_tags("org/app")
            digest = await client.resolve_digest("org/app", "1.2.3")
    """

    def __init__(
        self,
        registry: str,
        *,
        auth: RegistryAuth | None = None,
        ca_file: str | PathLike[str] | None = None,
        ca_data: str | None = None,
        insecure: bool = False,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        page_size: int | None = None,
        exclusion_list: Sequence[str] = DEFAULT_EXCLUSION_LIST,
        user_agent: str = "reconcilekit",
    ) -> None:
        raw = registry if "://" in registry else f"{'http' if insecure else 'https'}://{registry}"
        parts = urlsplit(raw)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
            raise ConfigurationError(f"registry {redact_url(registry)!r} is not a host or http(s) URL")
        if parts.scheme == "http" and not insecure and not _is_loopback(parts.hostname):
            raise ConfigurationError(
                f"registry {redact_url(registry)}: plain HTTP is allowed only for loopback hosts "
                "or with insecure=True"
            )
        if timeout <= 0 or retries < 0 or backoff < 0 or (page_size is not None and page_size <= 0):
            raise ConfigurationError(
                "RegistryClient: timeout and page_size must be > 0, retries and backoff >= 0"
            )
        if auth is None and parts.username is not None:
            auth = RegistryAuth(parts.username, parts.password or "")
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        netloc = f"{host}:{port}" if port else host
        self.url = f"{parts.scheme}://{netloc}"
        """The registry base URL, without credentials."""
        self.auth = auth
        self.insecure = insecure
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.page_size = page_size
        self.user_agent = user_agent
        try:
            self.exclusions = tuple(compile_re2(p) for p in exclusion_list)
        except RE2SyntaxError as exc:
            raise ConfigurationError(f"invalid exclusion pattern for registry {self.url}: {exc}") from None
        self._ssl: ssl.SSLContext | None = None
        if parts.scheme == "https":
            try:
                self._ssl = ssl.create_default_context(cafile=ca_file, cadata=ca_data)
            except (OSError, ssl.SSLError, ValueError) as exc:
                where = f" {str(ca_file)!r}" if ca_file is not None else ""
                raise ConfigurationError(
                    f"registry {self.url}: cannot load CA certificates{where}: {exc}"
                ) from None
        self._session: aiohttp.ClientSession | None = None
        # "Bearer …" per token scope once a bearer challenge was answered; _basic once a basic one was.
        self._tokens: dict[str, str] = {}
        self._basic = False

    # -- lifecycle ------------------------------------------------------------------------------------------

    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connections; the client may be used again afterwards (it reconnects)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=self._ssl if self._ssl is not None else False)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"User-Agent": self.user_agent},
            )
        return self._session

    # -- public API -----------------------------------------------------------------------------------------

    async def list_tags(self, repository: str, *, exclusion_list: Sequence[str] | None = None) -> list[str]:
        """Every tag of ``repository`` (in the registry's order), minus those matching the exclusion list.

        ``exclusion_list`` overrides the client's list for this call.
        """
        self._check_repository(repository)
        if exclusion_list is None:
            exclusions = self.exclusions
        else:
            try:
                exclusions = tuple(compile_re2(p) for p in exclusion_list)
            except RE2SyntaxError as exc:
                raise ConfigurationError(f"invalid exclusion pattern: {exc}") from None
        url = f"{self.url}/v2/{repository}/tags/list"
        if self.page_size is not None:
            url += f"?n={self.page_size}"
        tags: list[str] = []
        seen: set[str] = set()
        while True:
            if url in seen or len(seen) >= _MAX_PAGES:
                raise RegistryResponseError(self.url, repository, "tag list pagination does not end")
            seen.add(url)
            resp = await self._request("GET", url, repository)
            if resp.status == 404:
                raise RepositoryNotFound(self.url, repository)
            self._check_status(resp, repository)
            tags.extend(self._parse_tags(resp, repository))
            next_url = self._next_link(resp)
            if next_url is None:
                break
            url = next_url
        if not exclusions:
            return tags
        return [t for t in tags if not any(rx.search(t) for rx in exclusions)]

    async def resolve_digest(self, repository: str, reference: str) -> str:
        """The digest (``sha256:…``) of the manifest ``reference`` (a tag) points at.

        Asks with ``HEAD`` first (the ``Docker-Content-Digest`` header), and falls back to ``GET`` and hashing
        the manifest when the registry sends no digest header.
        """
        self._check_repository(repository)
        if not (_TAG.match(reference) or _DIGEST.match(reference)):
            raise ConfigurationError(f"invalid tag or digest {reference!r}")
        url = f"{self.url}/v2/{repository}/manifests/{quote(reference, safe=':')}"
        headers = {"Accept": ", ".join(MANIFEST_MEDIA_TYPES)}
        for method in ("HEAD", "GET"):
            resp = await self._request(method, url, repository, headers=headers)
            if resp.status == 404:
                if self._error_code(resp) == "NAME_UNKNOWN":
                    raise RepositoryNotFound(self.url, repository)
                raise ManifestNotFound(self.url, repository, reference)
            self._check_status(resp, repository)
            digest = resp.headers.get("Docker-Content-Digest")
            if digest:
                if not _DIGEST.match(digest):
                    raise RegistryResponseError(self.url, repository, f"invalid digest header {digest!r}")
                return digest
            if method == "GET":
                return "sha256:" + hashlib.sha256(resp.body).hexdigest()
        raise AssertionError("unreachable")  # pragma: no cover

    # -- HTTP with retries and auth -------------------------------------------------------------------------

    def _check_repository(self, repository: str) -> None:
        if not _REPOSITORY.match(repository):
            raise ConfigurationError(f"invalid repository name {repository!r} for registry {self.url}")

    def _auth_header(self, scope: str) -> str | None:
        token = self._tokens.get(scope)
        if token is not None:
            return token
        if self._basic and self.auth is not None:
            return _basic_header(self.auth)
        return None

    async def _request(
        self, method: str, url: str, repository: str, *, headers: Mapping[str, str] | None = None
    ) -> _Response:
        scope = f"repository:{repository}:pull"
        challenged = False
        while True:
            hdrs = dict(headers or {})
            auth = self._auth_header(scope)
            if auth is not None:
                hdrs["Authorization"] = auth
            resp = await self._send(method, url, repository, hdrs)
            if resp.status != 401:
                if resp.status == 403:
                    raise RegistryAuthError(self.url, repository, "access denied (403)")
                return resp
            if challenged:
                raise RegistryAuthError(self.url, repository, "credentials rejected (401)")
            challenged = True
            await self._answer_challenge(resp, repository, scope)

    async def _send(self, method: str, url: str, repository: str, headers: Mapping[str, str]) -> _Response:
        """One request, retried on connection errors, timeouts, 429 and 5xx."""
        reason = ""
        for attempt in range(self.retries + 1):
            delay = min(self.backoff * (2**attempt), _MAX_BACKOFF)
            try:
                return await self._once(method, url, headers)
            except _RetryableStatus as exc:
                reason = f"HTTP {exc.status}"
                if exc.retry_after is not None:
                    delay = min(exc.retry_after, _MAX_BACKOFF)
            except aiohttp.ClientSSLError as exc:
                # A certificate problem does not fix itself between retries.
                raise RegistryUnreachable(self.url, repository, f"TLS error: {exc}") from None
            except TimeoutError:
                reason = f"timed out after {self.timeout:g}s"
            except aiohttp.ClientError as exc:
                reason = str(exc) or type(exc).__name__
            if attempt < self.retries:
                await anyio.sleep(delay)
        tries = self.retries + 1
        raise RegistryUnreachable(
            self.url, repository, f"{reason} ({tries} attempt{'s' if tries > 1 else ''})"
        )

    async def _once(self, method: str, url: str, headers: Mapping[str, str]) -> _Response:
        async with self._http().request(method, url, headers=headers, allow_redirects=True) as resp:
            body = await resp.read()
            if resp.status == 429 or resp.status >= 500:
                raise _RetryableStatus(resp.status, _retry_after(resp.headers.get("Retry-After")))
            # A case-insensitive copy: header names are matched as HTTP says, whatever case the server used.
            return _Response(resp.status, CIMultiDict(resp.headers), body, str(resp.url))

    async def _answer_challenge(self, resp: _Response, repository: str, scope: str) -> None:
        header = resp.headers.get("WWW-Authenticate", "")
        kind, _, params_text = header.strip().partition(" ")
        params = {m[1].lower(): m[2] if m[2] is not None else m[3] for m in _AUTH_PARAM.finditer(params_text)}
        if kind.lower() == "basic":
            if self.auth is None:
                raise RegistryAuthError(
                    self.url, repository, "the registry asks for credentials; none configured"
                )
            if self._basic:
                raise RegistryAuthError(self.url, repository, "credentials rejected (401)")
            self._basic = True
            return
        if kind.lower() != "bearer" or not params.get("realm"):
            raise RegistryAuthError(self.url, repository, f"unsupported auth challenge {header!r}")
        self._tokens[scope] = "Bearer " + await self._fetch_token(params, repository, scope)

    async def _fetch_token(self, params: Mapping[str, str], repository: str, scope: str) -> str:
        realm = params["realm"]
        parts = urlsplit(realm)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise RegistryAuthError(self.url, repository, f"invalid token realm {redact_url(realm)!r}")
        if parts.scheme == "http" and not self.insecure and not _is_loopback(parts.hostname):
            raise RegistryAuthError(
                self.url, repository, f"token realm {redact_url(realm)} is plain HTTP; set insecure=True"
            )
        query: list[tuple[str, str]] = []
        if params.get("service"):
            query.append(("service", params["service"]))
        query.extend(("scope", s) for s in (params.get("scope") or scope).split(" ") if s)
        headers = {}
        if self.auth is not None:
            headers["Authorization"] = _basic_header(self.auth)
        sep = "&" if "?" in realm else "?"
        url = realm + (sep + "&".join(f"{k}={quote(v, safe='')}" for k, v in query) if query else "")
        resp = await self._send("GET", url, repository, headers)
        if resp.status in (401, 403):
            raise RegistryAuthError(
                self.url, repository, f"token service refused the credentials ({resp.status})"
            )
        if resp.status != 200:
            raise RegistryResponseError(self.url, repository, f"token service answered HTTP {resp.status}")
        data = self._json(resp, repository, "token response")
        token = data.get("token") or data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise RegistryResponseError(self.url, repository, "token response has no token")
        return token

    # -- response parsing -----------------------------------------------------------------------------------

    def _check_status(self, resp: _Response, repository: str) -> None:
        if resp.status != 200:
            code = self._error_code(resp)
            detail = f" ({code})" if code else ""
            raise RegistryResponseError(self.url, repository, f"unexpected HTTP {resp.status}{detail}")

    def _json(self, resp: _Response, repository: str, what: str) -> Any:
        try:
            return json.loads(resp.body)
        except ValueError:
            snippet = resp.body[:60].decode("utf-8", "replace")
            raise RegistryResponseError(self.url, repository, f"{what} is not JSON: {snippet!r}") from None

    def _error_code(self, resp: _Response) -> str | None:
        try:
            code: object = json.loads(resp.body).get("errors")[0].get("code")
        except (ValueError, AttributeError, IndexError, TypeError, KeyError):
            return None
        return code if isinstance(code, str) else None

    def _parse_tags(self, resp: _Response, repository: str) -> list[str]:
        data = self._json(resp, repository, "tag list")
        if not isinstance(data, dict):
            raise RegistryResponseError(self.url, repository, "tag list is not a JSON object")
        tags = data.get("tags")
        if tags is None:
            return []  # distribution answers "tags": null for a repository whose tags were all deleted
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise RegistryResponseError(self.url, repository, "'tags' is not a list of strings")
        return tags

    def _next_link(self, resp: _Response) -> str | None:
        link = resp.headers.get("Link")
        if not link:
            return None
        m = _LINK_NEXT.search(link)
        if m is None:
            return None
        target: str = urljoin(resp.url, str(m[1]))
        # The next page must stay on this registry: a Link to another host would leak the credentials.
        if urlsplit(target).netloc != urlsplit(self.url).netloc:
            raise RegistryResponseError(
                self.url, None, f"pagination link leaves the registry: {redact_url(target)}"
            )
        return target


def _basic_header(auth: RegistryAuth) -> str:
    # Encoded here rather than with aiohttp.BasicAuth, which is deprecated in aiohttp 3.14 and gone in 4.0.
    raw = f"{auth.username}:{auth.password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date; the exponential backoff is good enough
