"""Commit and tag signatures: OpenPGP (gpg) and SSH (ssh-keygen -Y), verified against caller-given keys.

Verification runs Debian's ``gpg`` and ``ssh-keygen`` with argument lists (never a shell) in a throw-away
GNUPGHOME / allowed-signers file, so only the keys the caller trusts count - never a keyring of the host.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import attrs

from .._errors import ConfigurationError

__all__ = ["GitVerify", "SigningKey", "check_signature", "sign_commit", "split_tag_signature"]

VerifyMode = Literal["HEAD", "Tag", "TagAndHEAD"]

_PGP_BEGIN = b"-----BEGIN PGP SIGNATURE-----"
_SSH_BEGIN = b"-----BEGIN SSH SIGNATURE-----"
_TIMEOUT = 30
# mkdtemp creates the directory 0700 with a random name, so a shared /tmp is safe here.
_SHORT_TMP = "/tmp"  # noqa: S108


def _tuple_of_str(value: str | Sequence[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


@attrs.frozen
class GitVerify:
    """Which signatures a :class:`GitSource` requires, and the keys it trusts (Flux's ``spec.verify``).

    Attributes:
        mode: ``"HEAD"`` (the commit), ``"Tag"`` (the annotated tag object) or ``"TagAndHEAD"`` (both).
        pgp_keys: ASCII-armored OpenPGP public keys.
        ssh_keys: SSH public keys in ``authorized_keys`` form (``ssh-ed25519 AAAA... comment``).

    A revision whose required signature is missing, made by another key or broken raises
    :class:`VerificationError`; its content is never snapshotted.

    Example::

        GitVerify(mode="HEAD", pgp_keys=[Path("maintainers.asc").read_text()])
    """

    mode: VerifyMode = "HEAD"
    pgp_keys: tuple[str, ...] = attrs.field(default=(), converter=_tuple_of_str)
    ssh_keys: tuple[str, ...] = attrs.field(default=(), converter=_tuple_of_str)

    def __attrs_post_init__(self) -> None:
        if self.mode not in ("HEAD", "Tag", "TagAndHEAD"):
            raise ConfigurationError(f"GitVerify mode must be HEAD, Tag or TagAndHEAD, got {self.mode!r}")
        if not self.pgp_keys and not self.ssh_keys:
            raise ConfigurationError("GitVerify needs at least one trusted OpenPGP or SSH public key")


@attrs.frozen(repr=False)
class SigningKey:
    """An ASCII-armored OpenPGP private key used to sign write-back commits (``passphrase`` if protected)."""

    armored_private_key: str
    passphrase: str | None = None

    def __repr__(self) -> str:
        return "SigningKey(<secret>)"


def split_tag_signature(raw: bytes) -> tuple[bytes | None, bytes]:
    """Split a raw tag object into ``(signature, signed payload)``; signature ``None`` if unsigned."""
    for marker in (_PGP_BEGIN, _SSH_BEGIN):
        i = raw.find(b"\n" + marker)
        if i >= 0:
            return raw[i + 1 :], raw[: i + 1]
        if raw.startswith(marker):
            return raw, b""
    return None, raw


def _run(
    args: list[str], *, env: dict[str, str] | None = None, data: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(args, input=data, capture_output=True, env=env, timeout=_TIMEOUT, check=False)


def _need(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        raise ConfigurationError(f"signature handling needs the {binary!r} program, which is not installed")
    return path


@contextmanager
def _gnupg_home() -> Iterator[tuple[str, dict[str, str]]]:
    gpg = _need("gpg")
    # A short path: gpg-agent's socket path must fit in sun_path.
    home = tempfile.mkdtemp(prefix="rkgpg-", dir=_SHORT_TMP if os.path.isdir(_SHORT_TMP) else None)
    os.chmod(home, 0o700)
    env = {**os.environ, "GNUPGHOME": home, "LC_ALL": "C"}
    try:
        yield gpg, env
    finally:
        gpgconf = shutil.which("gpgconf")
        if gpgconf is not None:
            _run([gpgconf, "--kill", "gpg-agent"], env=env)
        shutil.rmtree(home, ignore_errors=True)


def _gpg_verify(signature: bytes, payload: bytes, keys: Sequence[str]) -> tuple[bool, str]:
    if not keys:
        return False, "an OpenPGP signature, but no OpenPGP keys are trusted"
    with _gnupg_home() as (gpg, env):
        home = env["GNUPGHOME"]
        imported = _run([gpg, "--batch", "--no-tty", "--import"], env=env, data="\n".join(keys).encode())
        if imported.returncode != 0:
            raise ConfigurationError(
                "the trusted OpenPGP keys could not be imported (are they armored public keys?)"
            )
        sig = Path(home, "sig.asc")
        sig.write_bytes(signature)
        result = _run(
            [gpg, "--batch", "--no-tty", "--status-fd", "1", "--verify", str(sig), "-"], env=env, data=payload
        )
        status = result.stdout.decode(errors="replace").splitlines()
        words = {
            line.split()[1]: line for line in status if line.startswith("[GNUPG:] ") and len(line.split()) > 1
        }
        if result.returncode == 0 and "GOODSIG" in words and "VALIDSIG" in words:
            fpr = words["VALIDSIG"].split()[2]
            return True, f"OpenPGP key {fpr}"
        for bad in ("BADSIG", "EXPKEYSIG", "REVKEYSIG", "EXPSIG"):
            if bad in words:
                return False, f"OpenPGP signature is not valid ({bad})"
        if "NO_PUBKEY" in words or "ERRSIG" in words:
            return False, "signed by an OpenPGP key that is not trusted"
        return False, "OpenPGP signature could not be verified"


def _ssh_verify(signature: bytes, payload: bytes, keys: Sequence[str]) -> tuple[bool, str]:
    if not keys:
        return False, "an SSH signature, but no SSH keys are trusted"
    keygen = _need("ssh-keygen")
    with tempfile.TemporaryDirectory(prefix="rk-sshsig-") as tmp:
        allowed = Path(tmp, "allowed_signers")
        lines = []
        for key in keys:
            parts = key.split()
            if len(parts) < 2:
                raise ConfigurationError(
                    "a trusted SSH key is not in authorized_keys form ('type base64 [comment]')"
                )
            lines.append(f"reconcilekit-trusted {parts[0]} {parts[1]}")
        allowed.write_text("\n".join(lines) + "\n")
        sig = Path(tmp, "sig")
        sig.write_bytes(signature)
        result = _run(
            [
                keygen,
                "-Y",
                "verify",
                "-f",
                str(allowed),
                "-I",
                "reconcilekit-trusted",
                "-n",
                "git",
                "-s",
                str(sig),
            ],
            data=payload,
        )
        if result.returncode == 0:
            out = result.stdout.decode(errors="replace").strip()
            return True, out.split(" with ", 1)[-1] if " with " in out else "SSH key"
        return False, "SSH signature does not verify against the trusted keys"


def check_signature(signature: bytes | None, payload: bytes, verify: GitVerify) -> tuple[bool, str]:
    """Check one detached signature over ``payload``; return ``(ok, who-or-why)``."""
    if signature is None or not signature.strip():
        return False, "it is not signed"
    stripped = signature.lstrip()
    if stripped.startswith(_PGP_BEGIN):
        return _gpg_verify(signature, payload, verify.pgp_keys)
    if stripped.startswith(_SSH_BEGIN):
        return _ssh_verify(signature, payload, verify.ssh_keys)
    return False, "the signature is in an unknown format (neither OpenPGP nor SSH)"


def sign_commit(buffer: str | bytes, key: SigningKey) -> str:
    """Return an armored detached OpenPGP signature of a commit buffer (for ``gpgsig``)."""
    data = buffer.encode() if isinstance(buffer, str) else buffer
    with _gnupg_home() as (gpg, env):
        home = env["GNUPGHOME"]
        base = [gpg, "--batch", "--no-tty", "--pinentry-mode", "loopback"]
        passfile = Path(home, "pass")
        passfile.write_text(key.passphrase or "")
        passfile.chmod(0o600)
        base += ["--passphrase-file", str(passfile)]
        imported = _run([*base, "--import"], env=env, data=key.armored_private_key.encode())
        if imported.returncode != 0:
            raise ConfigurationError(
                "the commit signing key could not be imported (wrong passphrase or not a key)"
            )
        result = _run([*base, "--armor", "--detach-sign"], env=env, data=data)
        if result.returncode != 0:
            raise ConfigurationError("signing the commit with the given OpenPGP key failed")
        return result.stdout.decode()
