"""The builtin operations on a list of :class:`WorkResource` (kustomize's builtin plugins).

Each function edits the resources in place and returns the (possibly shorter) list. The public
Transformer classes in ``_transformers.py`` wrap them for use in a pipeline; the build engine
(``_target.py``) calls them directly in kustomize's order.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .._model import copy_tree
from ._errors import KustomizationError, PatchTargetNotFoundError, ResourceConflictError
from ._fieldspecs import (
    ANNOTATION_SPECS,
    COMMON_LABEL_SPECS,
    METADATA_LABEL_SPECS,
    REPLICA_SPECS,
    FieldSpec,
    apply_at,
)
from ._nameref import NAME_REFERENCES
from ._resource import CLUSTER_SCOPED_KINDS, ResId, WorkResource, split_api_version
from ._smp import UnknownDirectiveError, schema_for, strategic_merge

__all__ = [
    "Selector",
    "add_hash_suffixes",
    "apply_annotations",
    "apply_images",
    "apply_json6902",
    "apply_labels",
    "apply_namespace",
    "apply_prefix_suffix",
    "apply_replicas",
    "apply_strategic_merge",
    "config_map_hash",
    "fix_name_references",
    "secret_hash",
    "sort_resources",
]


# ---------------------------------------------------------------------------------------------- helpers
def _gvk(res: WorkResource) -> tuple[str, str, str]:
    group, version = split_api_version(res.api_version)
    return group, version, res.kind


def _apply_specs(
    resources: Iterable[WorkResource], specs: Sequence[FieldSpec], fn: Any, *, use_org: bool = False
) -> None:
    for res in resources:
        if use_org:
            oid = res.org_id()
            group, version, kind = oid.group, oid.version, oid.kind
        else:
            group, version, kind = _gvk(res)
        for spec in specs:
            if spec.applies(group, version, kind):
                apply_at(res.obj, spec.segments, spec.create, fn)


def _map_setter(values: Mapping[str, Any]) -> Any:
    def set_map(parent: dict[str, Any], key: str) -> None:
        m = parent.get(key)
        if not isinstance(m, dict):
            m = {}
            parent[key] = m
        for k, v in values.items():
            m[k] = v

    return set_map


# ---------------------------------------------------------------------------------------------- namespace
_NAMESPACE_EXTRA = (
    FieldSpec("spec/service/namespace", kind="APIService", group="apiregistration.k8s.io", create=True),
    FieldSpec(
        "spec/conversion/webhook/clientConfig/service/namespace",
        kind="CustomResourceDefinition",
        group="apiextensions.k8s.io",
    ),
)


def apply_namespace(
    resources: list[WorkResource], namespace: str, source: str = "", extra: Sequence[FieldSpec] = ()
) -> list[WorkResource]:
    """kustomize's NamespaceTransformer (``namespace:``), with the RoleBinding ``default`` subject rule."""
    for res in resources:
        res.remember_id()
        kind = res.kind
        if kind == "Namespace":
            res.set_name(namespace)
        elif kind not in CLUSTER_SCOPED_KINDS:
            res.set_namespace(namespace)
        if kind in ("RoleBinding", "ClusterRoleBinding"):
            subjects = res.obj.get("subjects")
            if isinstance(subjects, list):
                for subject in subjects:
                    if isinstance(subject, dict) and subject.get("name") == "default":
                        subject["namespace"] = namespace

        def set_ns(parent: dict[str, Any], key: str) -> None:
            parent[key] = namespace

        _apply_specs([res], (*_NAMESPACE_EXTRA, *extra), set_ns)
    seen: dict[tuple[str, ...], WorkResource] = {}
    for res in resources:
        key = res.cur_id().key()
        if key in seen:
            raise ResourceConflictError(
                source or res.source, f"namespace transformation produces ID conflict: {res.cur_id()}"
            )
        seen[key] = res
    return resources


# ---------------------------------------------------------------------------------------------- prefix
_PREFIX_SKIP = {("", "CustomResourceDefinition"), ("apiregistration.k8s.io", "APIService"), ("", "Namespace")}


def apply_prefix_suffix(resources: list[WorkResource], prefix: str, suffix: str) -> list[WorkResource]:
    """kustomize's PrefixTransformer/SuffixTransformer on ``metadata.name``."""
    for res in resources:
        oid = res.org_id()
        if (("", oid.kind) in _PREFIX_SKIP) or ((oid.group, oid.kind) in _PREFIX_SKIP):
            continue
        res.remember_id()
        res.set_name(prefix + res.name + suffix)
    return resources


# ---------------------------------------------------------------------------------------------- labels
def label_specs(*, include_selectors: bool, include_templates: bool) -> tuple[FieldSpec, ...]:
    """The field specs ``labels:`` uses for its options (``commonLabels`` uses include_selectors)."""
    if include_selectors:
        return COMMON_LABEL_SPECS
    if include_templates:
        return METADATA_LABEL_SPECS
    return (FieldSpec("metadata/labels", create=True),)


def apply_labels(
    resources: list[WorkResource], labels: Mapping[str, str], specs: Sequence[FieldSpec]
) -> list[WorkResource]:
    """kustomize's LabelTransformer."""
    if labels:
        _apply_specs(resources, specs, _map_setter(labels))
    return resources


def apply_annotations(
    resources: list[WorkResource],
    annotations: Mapping[str, str],
    specs: Sequence[FieldSpec] = ANNOTATION_SPECS,
) -> list[WorkResource]:
    """kustomize's AnnotationsTransformer."""
    if annotations:
        _apply_specs(resources, specs, _map_setter(annotations))
    return resources


# ---------------------------------------------------------------------------------------------- images
def split_image(image: str) -> tuple[str, str, str]:
    """``name[:tag][@digest]`` → (name, tag, digest), ignoring a registry's ``:port``."""
    slash = image.find("/")
    offset = slash if slash > 0 else 0
    search = image[offset:]
    id_ = search.find("@")
    ic = search.find(":")
    if ic < 0 and id_ < 0:
        return image, "", ""
    if id_ >= 0 and (id_ < ic or ic < 0):
        id_ += offset
        return image[:id_], "", image[id_ + 1 :]
    if id_ >= 0 and ic >= 0:
        id_ += offset
        ic += offset
        return image[:ic], image[ic + 1 : id_], image[id_ + 1 :]
    ic += offset
    return image[:ic], image[ic + 1 :], ""


def _image_matcher(name: str) -> re.Pattern[str]:
    try:
        return re.compile("^" + name + r"(@sha256)?(:[a-zA-Z0-9_.{}-]*)?(@sha256:[a-zA-Z0-9]*)?$")
    except re.error:
        return re.compile("^" + re.escape(name) + r"(@sha256)?(:[a-zA-Z0-9_.{}-]*)?(@sha256:[a-zA-Z0-9]*)?$")


def update_image(value: str, image: Mapping[str, Any]) -> str:
    """One image reference rewritten by an ``images:`` entry (unchanged when the name does not match)."""
    if not _image_matcher(str(image.get("name", ""))).match(value):
        return value
    name, tag, digest = split_image(value)
    new_name = str(image.get("newName") or "")
    new_tag = image.get("newTag")
    new_tag = "" if new_tag is None else str(new_tag)
    new_digest = str(image.get("digest") or "")
    if new_name:
        name = new_name
    if new_tag and new_digest:
        tag, digest = new_tag, new_digest
    elif new_tag:
        tag, digest = new_tag, ""
    elif new_digest:
        tag, digest = "", new_digest
    if tag:
        name += ":" + tag
    if digest:
        name += "@" + digest
    return name


def _walk_containers(node: Any, image: Mapping[str, Any]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                for c in value:
                    if isinstance(c, dict) and isinstance(c.get("image"), str):
                        c["image"] = update_image(c["image"], image)
            _walk_containers(value, image)
    elif isinstance(node, list):
        for item in node:
            _walk_containers(item, image)


_IMAGE_VOLUME_SPECS = (
    FieldSpec("spec/volumes[]/image/reference"),
    FieldSpec("spec/template/spec/volumes[]/image/reference"),
)


def apply_images(
    resources: list[WorkResource], images: Sequence[Mapping[str, Any]], extra: Sequence[FieldSpec] = ()
) -> list[WorkResource]:
    """kustomize's ImageTagTransformer: every ``containers``/``initContainers`` image, anywhere."""
    for image in images:

        def set_ref(parent: dict[str, Any], key: str, image: Mapping[str, Any] = image) -> None:
            if isinstance(parent.get(key), str):
                parent[key] = update_image(parent[key], image)

        for res in resources:
            _walk_containers(res.obj, image)
        _apply_specs(resources, (*_IMAGE_VOLUME_SPECS, *extra), set_ref)
    return resources


# ---------------------------------------------------------------------------------------------- replicas
def apply_replicas(
    resources: list[WorkResource],
    replicas: Sequence[Mapping[str, Any]],
    source: str = "",
    extra: Sequence[FieldSpec] = (),
) -> list[WorkResource]:
    """kustomize's ReplicaCountTransformer (``replicas: [{name, count}]``)."""
    for rep in replicas:
        name = rep.get("name")
        count = rep.get("count")
        found = False
        for res in resources:
            ids = res.all_ids()
            for spec in (*REPLICA_SPECS, *extra):
                if any(i.name == name and spec.applies(i.group, i.version, i.kind) for i in ids):
                    found = True

                    def set_count(parent: dict[str, Any], key: str, count: Any = count) -> None:
                        parent[key] = count

                    apply_at(res.obj, spec.segments, spec.create, set_count)
        if not found:
            raise KustomizationError(
                source,
                f"replicas: resource with name {name} does not match a config with the following GVK "
                "[Deployment StatefulSet ReplicaSet ReplicationController]",
            )
    return resources


# ---------------------------------------------------------------------------------------------- selectors
class Selector:
    """A patch/replacement ``target``: group, version, kind, name and namespace regexes, label and
    annotation selectors (kustomize's ``types.Selector``)."""

    __slots__ = ("annotation_selector", "group", "kind", "label_selector", "name", "namespace", "version")

    def __init__(self, spec: Mapping[str, Any], source: str = "target selector") -> None:
        # Every string field is an anchored regular expression (kustomize compiles "^(?:" + s + ")$").
        self.group = _anchored(spec.get("group"), source)
        self.version = _anchored(spec.get("version"), source)
        self.kind = _anchored(spec.get("kind"), source)
        self.name = _anchored(spec.get("name"), source)
        self.namespace = _anchored(spec.get("namespace"), source)
        self.label_selector = parse_label_selector(spec.get("labelSelector"), source)
        self.annotation_selector = parse_label_selector(spec.get("annotationSelector"), source)

    def matches(self, res: WorkResource) -> bool:
        cur = res.cur_id()
        org = res.org_id()
        if self.namespace is not None and not (
            self.namespace.match(org.effective_namespace()) or self.namespace.match(cur.effective_namespace())
        ):
            return False
        if self.name is not None and not (self.name.match(org.name) or self.name.match(cur.name)):
            return False
        if self.kind is not None and not self.kind.match(cur.kind):
            return False
        if self.group is not None and not self.group.match(cur.group):
            return False
        if self.version is not None and not self.version.match(cur.version):
            return False
        if self.label_selector is not None and not selector_matches(self.label_selector, res.labels()):
            return False
        return not (
            self.annotation_selector is not None
            and not selector_matches(self.annotation_selector, res.annotations())
        )


def _anchored(pattern: Any, source: str) -> re.Pattern[str] | None:
    if pattern is None or pattern == "":
        return None
    try:
        return re.compile(f"^(?:{pattern})$")
    except re.error as exc:
        raise KustomizationError(
            source, f"invalid regular expression {pattern!r} in a target: {exc}"
        ) from None


_Requirement = tuple[str, str, tuple[str, ...]]


_SEL_KEY = re.compile(r"^(?:[a-zA-Z0-9.-]+/)?[a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?$")
_SEL_VALUE = re.compile(r"^(?:[a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?)?$")


def parse_label_selector(text: Any, source: str = "label selector") -> list[_Requirement] | None:
    """Parse ``a=b,c!=d,e in (x,y),f notin (z),g,!h`` into requirements (malformed → error)."""
    if not text:
        return None
    text = str(text)
    reqs: list[_Requirement] = []
    parts: list[str] = []
    depth = 0
    cur = ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if depth < 0 or depth > 1:
            raise KustomizationError(
                source, f"unable to parse label selector {text!r}: unbalanced parentheses"
            )
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    if depth != 0:
        raise KustomizationError(
            source, f"unable to parse label selector {text!r}: found '', expected: ',' or ')'"
        )
    for raw in parts:
        part = raw.strip()
        if not part:
            raise KustomizationError(source, f"unable to parse label selector {text!r}: empty requirement")
        m = re.match(r"^([^\s!=]+)\s+(in|notin)\s*\((.*)\)$", part)
        if m:
            values = tuple(v.strip() for v in m.group(3).split(",") if v.strip())
            reqs.append((m.group(1), m.group(2), values))
        elif "!=" in part:
            k, v = part.split("!=", 1)
            reqs.append((k.strip(), "!=", (v.strip(),)))
        elif "==" in part:
            k, v = part.split("==", 1)
            reqs.append((k.strip(), "=", (v.strip(),)))
        elif "=" in part:
            k, v = part.split("=", 1)
            reqs.append((k.strip(), "=", (v.strip(),)))
        elif part.startswith("!"):
            reqs.append((part[1:].strip(), "!", ()))
        else:
            reqs.append((part, "exists", ()))
    for key, _, values in reqs:
        if not _SEL_KEY.match(key) or not all(_SEL_VALUE.match(v) for v in values):
            raise KustomizationError(source, f"unable to parse label selector {text!r}: invalid key or value")
    return reqs


def selector_matches(reqs: list[_Requirement], labels: Mapping[str, Any]) -> bool:
    for key, op, values in reqs:
        present = key in labels
        value = str(labels.get(key)) if present else None
        if op == "=" and value != values[0]:
            return False
        if op == "!=" and present and value == values[0]:
            return False
        if op == "in" and value not in values:
            return False
        if op == "notin" and present and value in values:
            return False
        if op == "exists" and not present:
            return False
        if op == "!" and present:
            return False
    return True


# ---------------------------------------------------------------------------------------------- patches
def _patch_id(patch: Mapping[str, Any]) -> ResId:
    md = patch.get("metadata") if isinstance(patch.get("metadata"), dict) else {}
    assert isinstance(md, dict)
    group, version = split_api_version(str(patch.get("apiVersion") or ""))
    return ResId(
        group,
        version,
        str(patch.get("kind") or ""),
        str(md.get("name") or ""),
        str(md.get("namespace") or ""),
    )


def _apply_smp_to(res: WorkResource, patch: Mapping[str, Any], options: Mapping[str, Any]) -> bool:
    """Patch one resource; return False when the patch deleted it."""
    name, namespace, kind, api_version = res.name, res.metadata.get("namespace"), res.kind, res.api_version
    allow_name = bool(options.get("allowNameChange"))
    allow_kind = bool(options.get("allowKindChange"))
    if allow_name or allow_kind:
        res.remember_id()
    group, _ = split_api_version(res.api_version)
    merged = strategic_merge(res.obj, copy_tree(patch), schema_for(group, kind))
    if merged is None:
        return False
    res.obj = merged
    if not allow_kind:
        # A targeted patch takes the target's GVK (its own apiVersion/kind are only placeholders).
        res.obj["kind"] = kind
        res.obj["apiVersion"] = api_version
    if not allow_name:
        res.set_name(name)
    if namespace is None:
        res.metadata.pop("namespace", None)
    else:
        res.set_namespace(namespace)
    return True


def apply_strategic_merge(
    resources: list[WorkResource],
    patch: Mapping[str, Any],
    *,
    target: Selector | None,
    source: str,
    options: Mapping[str, Any] | None = None,
) -> list[WorkResource]:
    """Apply one strategic-merge patch document, to ``target``'s selection or to the resource it names."""
    options = options or {}
    if target is None:
        pid = _patch_id(patch)
        key = pid.key()
        selected = [r for r in resources if any(i.key() == key for i in r.all_ids())]
        if len(selected) != 1:
            what = "no resource matches" if not selected else "multiple resources match"
            raise PatchTargetNotFoundError(source, f"{what} strategic merge patch {pid}")
    else:
        selected = [r for r in resources if target.matches(r)]
    deleted: set[int] = set()
    for res in selected:
        try:
            kept = _apply_smp_to(res, patch, options)
        except UnknownDirectiveError as exc:
            raise KustomizationError(source, f"strategic merge patch on {res.cur_id()}: {exc}") from None
        if not kept:
            deleted.add(id(res))
    if deleted:
        resources = [r for r in resources if id(r) not in deleted]
    return resources


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _ensure_parent(obj: Any, path: str) -> None:
    """Create the missing containers above ``path`` (kustomize applies JSON patches with
    evanphx/json-patch's EnsurePathExistsOnAdd)."""
    tokens = [_unescape(t) for t in path.split("/")[1:]]
    node = obj
    for i, token in enumerate(tokens[:-1]):
        nxt = tokens[i + 1]
        fresh: Any = [] if (nxt == "-" or nxt.isdigit()) else {}
        if isinstance(node, dict):
            if token not in node or node[token] is None:
                node[token] = fresh
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return


def apply_json6902(
    resources: list[WorkResource], ops: list[Any], *, target: Selector, source: str
) -> list[WorkResource]:
    """Apply an RFC 6902 JSON patch to every resource ``target`` selects."""
    import jsonpatch  # deferred: only builds with JSON patches pay for the import

    try:
        patches = [jsonpatch.JsonPatch([op]) for op in ops]
    except Exception as exc:  # jsonpatch raises several unrelated types for a bad document
        raise KustomizationError(source, f"invalid JSON patch: {exc}") from None
    for res in resources:
        if not target.matches(res):
            continue
        before = res.cur_id()
        for op, patch in zip(ops, patches, strict=True):
            try:
                if isinstance(op, dict) and op.get("op") == "add" and isinstance(op.get("path"), str):
                    _ensure_parent(res.obj, op["path"])
                res.obj = patch.apply(res.obj, in_place=True)
            except Exception as exc:  # JsonPatchConflict, JsonPointerException, KeyError...
                raise KustomizationError(source, f"JSON patch failed on {before}: {exc}") from None
        after = res.cur_id()
        if (after.name, after.namespace, after.kind) != (before.name, before.namespace, before.kind):
            # A rename by patch is followed by references, like a prefix (kustomize keeps the old id).
            res.prev_ids.append(before)
    return resources


# ---------------------------------------------------------------------------------------------- hashing
def _go_json(value: Any) -> str:
    # Go's json.Marshal: sorted keys, compact, and <, >, & escaped (HTML-safe by default).
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


_HASH_VOWELS = str.maketrans("013ae", "ghkmt")


def _encode_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]
    return digest.translate(_HASH_VOWELS)


def _node_value(obj: Mapping[str, Any], field: str) -> Any:
    # kustomize's hasher looks fields up with kyaml's Lookup: a missing field hashes as "", a map as a map.
    value = obj.get(field)
    if value is None:
        return ""
    return value


def config_map_hash(obj: Mapping[str, Any]) -> str:
    """kustomize's ConfigMap name hash (api/hasher).

    kustomize looks the name up as one field literally called ``metadata/name``, which never exists, so
    the name always hashes as the empty string; we reproduce that to produce the same suffix.
    """
    doc: dict[str, Any] = {"kind": "ConfigMap", "name": "", "data": _node_value(obj, "data")}
    if isinstance(obj.get("binaryData"), dict):
        doc["binaryData"] = obj["binaryData"]
    return _encode_hash(_go_json(doc))


def secret_hash(obj: Mapping[str, Any]) -> str:
    """kustomize's Secret name hash (api/hasher); the name hashes as ``""`` (see :func:`config_map_hash`)."""
    doc: dict[str, Any] = {
        "kind": "Secret",
        "type": _node_value(obj, "type"),
        "name": "",
        "data": _node_value(obj, "data"),
    }
    if isinstance(obj.get("stringData"), dict):
        doc["stringData"] = obj["stringData"]
    return _encode_hash(_go_json(doc))


def add_hash_suffixes(resources: list[WorkResource]) -> list[WorkResource]:
    """Append the content hash to every generated ConfigMap/Secret that wants one."""
    for res in resources:
        if not res.needs_hash:
            continue
        if res.kind == "ConfigMap":
            h = config_map_hash(res.obj)
        elif res.kind == "Secret":
            h = secret_hash(res.obj)
        else:
            continue
        res.remember_id()
        res.set_name(f"{res.name}-{h}")
        res.needs_hash = False
    return resources


def b64(data: bytes) -> str:
    """Standard base64 text."""
    return base64.b64encode(data).decode("ascii")


# ---------------------------------------------------------------------------------------------- name refs
def _role_ref_kind(referrer: WorkResource, path: tuple[str, ...]) -> str | None:
    if referrer.kind in ("RoleBinding", "ClusterRoleBinding") and path and path[0] == "roleRef":
        rr = referrer.obj.get("roleRef")
        if isinstance(rr, dict):
            return str(rr.get("kind") or "")
    return None


def _could_reference(referrer: WorkResource, candidates: list[WorkResource]) -> list[WorkResource]:
    rid = referrer.cur_id()
    if rid.cluster_scoped:
        return candidates
    rb_namespaces: set[str] = set()
    if referrer.kind == "RoleBinding":
        subjects = referrer.obj.get("subjects")
        if isinstance(subjects, list):
            rb_namespaces = {
                str(s["namespace"]) for s in subjects if isinstance(s, dict) and s.get("namespace")
            }
    ens = rid.effective_namespace()
    out = []
    for c in candidates:
        cid = c.cur_id()
        if cid.cluster_scoped or cid.effective_namespace() == ens or c.namespace in rb_namespaces:
            out.append(c)
    return out


def _select_referral(
    old: str, referrer: WorkResource, candidates: list[WorkResource], role_kind: str | None, source: str
) -> WorkResource | None:
    found = [c for c in candidates if c.name == old or any(i.name == old for i in c.prev_ids)]
    if role_kind is not None:
        found = [c for c in found if c.kind == role_kind]
    rid = referrer.cur_id()
    if not rid.cluster_scoped:
        ens = rid.effective_namespace()
        found = [
            c
            for c in found
            if c.cur_id().cluster_scoped
            or c.kind == "ServiceAccount"
            or c.cur_id().effective_namespace() == ens
        ]
    if len(found) == 1:
        return found[0]
    if not found:
        return None
    if len({c.name for c in found}) == 1:
        return found[0]
    ids = ", ".join(str(c.cur_id()) for c in found)
    raise KustomizationError(source, f"found multiple possible referrals for {old!r} in {rid}: {ids}")


def fix_name_references(
    resources: list[WorkResource],
    source: str = "",
    extra: Sequence[tuple[str, str | None, tuple[FieldSpec, ...]]] = (),
) -> list[WorkResource]:
    """Rewrite every reference to a renamed object (kustomize's nameReference config)."""
    by_kind: dict[str, list[WorkResource]] = {}
    for res in resources:
        for kind in {res.kind, *(i.kind for i in res.prev_ids)}:
            by_kind.setdefault(kind, []).append(res)
    renamed_kinds = {
        kind
        for kind, members in by_kind.items()
        if any(
            m.prev_ids and any(i.name != m.name or i.namespace != m.namespace for i in m.prev_ids)
            for m in members
        )
    }
    for referral_kind, referral_group, referrers in (*NAME_REFERENCES, *extra):
        if referral_kind not in renamed_kinds:
            continue
        all_candidates = [
            c
            for c in by_kind.get(referral_kind, [])
            if any(
                i.kind == referral_kind and (referral_group is None or i.group == referral_group)
                for i in c.all_ids()
            )
        ]
        if not all_candidates:
            continue
        for referrer in resources:
            oid = referrer.org_id()
            for spec in referrers:
                if not spec.applies(oid.group, oid.version, oid.kind):
                    continue
                candidates = _could_reference(referrer, all_candidates)
                if not candidates:
                    continue
                role_kind = _role_ref_kind(referrer, spec.segments)

                def fix(
                    parent: dict[str, Any],
                    key: str,
                    referrer: WorkResource = referrer,
                    candidates: list[WorkResource] = candidates,
                    role_kind: str | None = role_kind,
                ) -> None:
                    _fix_value(parent, key, referrer, candidates, role_kind, source)

                apply_at(referrer.obj, spec.segments, False, fix)
    return resources


def _fix_value(
    parent: dict[str, Any],
    key: str,
    referrer: WorkResource,
    candidates: list[WorkResource],
    role_kind: str | None,
    source: str,
) -> None:
    value = parent.get(key)
    if isinstance(value, str):
        ref = _select_referral(value, referrer, candidates, role_kind, source)
        if ref is not None:
            parent[key] = ref.name
    elif isinstance(value, dict):
        _fix_mapping(value, referrer, candidates, role_kind, source)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, str):
                ref = _select_referral(item, referrer, candidates, role_kind, source)
                if ref is not None:
                    value[i] = ref.name
            elif isinstance(item, dict):
                _fix_mapping(item, referrer, candidates, role_kind, source)


def _fix_mapping(
    node: dict[str, Any],
    referrer: WorkResource,
    candidates: list[WorkResource],
    role_kind: str | None,
    source: str,
) -> None:
    name = node.get("name")
    if not isinstance(name, str):
        return
    if "namespace" in node:
        # Compared as effective namespaces: "default" matches an object that has none.
        ns = str(node.get("namespace") or "") or "default"
        by_org = [c for c in candidates if c.org_id().effective_namespace() == ns]
        candidates = by_org or [c for c in candidates if c.cur_id().effective_namespace() == ns]
    ref = _select_referral(name, referrer, candidates, role_kind, source)
    if ref is None:
        return
    if ref.name == name and not ref.namespace:
        return
    node["name"] = ref.name
    if ref.namespace:
        node["namespace"] = ref.namespace


# ---------------------------------------------------------------------------------------------- sorting
_ORDER_FIRST = (
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
)
_ORDER_LAST = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")


def sort_resources(
    resources: list[WorkResource],
    order_first: Sequence[str] = _ORDER_FIRST,
    order_last: Sequence[str] = _ORDER_LAST,
) -> list[WorkResource]:
    """kustomize's legacy order: listed kinds first and last, then by GVK, namespace and name."""
    rank: dict[str, int] = {}
    for i, kind in enumerate(order_first):
        rank[kind] = -len(order_first) + i
    for i, kind in enumerate(order_last):
        rank[kind] = i + 1

    def key(res: WorkResource) -> tuple[int, str, str]:
        # Within one GVK kustomize compares a legacy id string: namespace ("~X" when unset, so those
        # come last) then name.
        cid = res.cur_id()
        # kyaml's legacy GVK string: group first, "~G"/"~V" when empty (so the core group sorts last).
        gvk = f"{cid.group or '~G'}_{cid.version or '~V'}_{cid.kind or '~K'}"
        return (rank.get(cid.kind, 0), gvk, f"{cid.namespace or '~X'}|{cid.name}")

    return sorted(resources, key=key)
