"""configMapGenerator and secretGenerator: key/value sources, options and kustomize's validations."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from ._errors import KustomizationError
from ._ops import b64
from ._resource import WorkResource

__all__ = ["generate", "merge_options"]


def merge_options(local: Mapping[str, Any] | None, global_: Mapping[str, Any] | None) -> dict[str, Any]:
    """kustomize's MergeGlobalOptionsIntoLocal: maps merged (local wins), a global ``true`` wins."""
    local = dict(local or {})
    global_ = dict(global_ or {})
    out: dict[str, Any] = {}
    for field in ("labels", "annotations"):
        merged = {**(global_.get(field) or {}), **(local.get(field) or {})}
        if merged:
            out[field] = merged
    for flag in ("disableNameSuffixHash", "immutable"):
        if global_.get(flag) or local.get(flag):
            out[flag] = True
    return out


def _wrapped_b64(data: bytes) -> str:
    # kustomize's encodeBase64 wraps at 70 columns, ending every line with a newline once there are two.
    text = b64(data)
    if len(text) < 70:
        return text
    return "".join(text[i : i + 70] + "\n" for i in range(0, len(text), 70))


def _remove_quotes(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _env_pairs(text: str, source: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    if text.startswith("\ufeff"):
        text = text[1:]
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        if "=" in line:
            key, value = line.split("=", 1)
        else:
            key, value = line, os.environ.get(line, "")
        if not key:
            raise KustomizationError(source, f"line {lineno}: empty key in env file")
        pairs.append((key, value))
    return pairs


def generate(
    args: Mapping[str, Any],
    *,
    kind: str,
    read: Callable[[str], tuple[bytes, str]],
    options: Mapping[str, Any],
    source: str,
) -> WorkResource:
    """Build one ConfigMap or Secret from generator ``args``; ``read`` loads a file under the root."""
    name = args.get("name")
    if not name or not isinstance(name, str):
        raise KustomizationError(source, f"{kind} generator needs a name")
    pairs: list[tuple[str, str | bytes]] = []
    envs = list(args.get("envs") or [])
    if args.get("env"):
        envs.append(args["env"])
    for env in envs:
        data, path = read(str(env))
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise KustomizationError(path, "env file is not UTF-8") from None
        pairs.extend(_env_pairs(text, path))
    for literal in args.get("literals") or []:
        literal = str(literal)
        if literal.startswith("=") or "=" not in literal:
            raise KustomizationError(source, f"invalid literal source {literal}, expected key=value")
        lkey, lvalue = literal.split("=", 1)
        pairs.append((lkey, _remove_quotes(lvalue)))
    for spec in args.get("files") or []:
        spec = str(spec)
        if "=" in spec:
            key, path = spec.split("=", 1)
            if not key:
                raise KustomizationError(source, f"key names or file paths cannot be empty: {spec}")
        else:
            key, path = os.path.basename(spec), spec
        data, _ = read(path)
        pairs.append((key, data))

    data_map: dict[str, str] = {}
    binary_map: dict[str, str] = {}
    for key, value in pairs:
        if key in data_map or key in binary_map:
            raise KustomizationError(source, f"{kind.lower()} {name} illegally repeats the key `{key}`")
        if kind == "Secret":
            data_map[key] = _wrapped_b64(value if isinstance(value, bytes) else value.encode("utf-8"))
        elif isinstance(value, bytes):
            try:
                data_map[key] = value.decode("utf-8")
            except UnicodeDecodeError:
                binary_map[key] = b64(value)
        else:
            data_map[key] = value

    metadata: dict[str, Any] = {"name": name}
    if args.get("namespace"):
        metadata["namespace"] = args["namespace"]
    if options.get("labels"):
        metadata["labels"] = dict(options["labels"])
    if options.get("annotations"):
        metadata["annotations"] = dict(options["annotations"])
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": kind, "metadata": metadata}
    if kind == "Secret":
        obj["type"] = args.get("type") or "Opaque"
    if data_map:
        obj["data"] = data_map
    if binary_map:
        obj["binaryData"] = binary_map
    if options.get("immutable"):
        obj["immutable"] = True
    res = WorkResource(obj, source)
    res.needs_hash = not options.get("disableNameSuffixHash")
    behavior = args.get("behavior") or "create"
    if behavior not in ("create", "merge", "replace"):
        raise KustomizationError(source, f"invalid generator behavior {behavior!r} for {kind} {name}")
    res.behavior = behavior
    return res
