"""Strategic-merge directives and replacement ``create`` paths at their edges, as kustomize v5.5 does them.

Every expected value here was recorded from ``kubectl kustomize`` (kustomize v5.5.0) on the same input; the
differential corpus (tests/kustomize/cases) holds the common cases, these pin the corners of kyaml's list
walk (merge2/walk) and of its PathMatcher that the engine reproduces.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconcilekit.kustomize import KustomizationError, build, to_yaml
from reconcilekit.kustomize._smp import schema_for, strategic_merge


def _pod(spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", **metadata}, "spec": spec}


def _merge_pod(base_spec: dict[str, Any], patch_spec: dict[str, Any]) -> Any:
    merged = strategic_merge(
        _pod(copy.deepcopy(base_spec)), _pod(copy.deepcopy(patch_spec)), schema_for("", "Pod")
    )
    return merged["spec"]


MAIN = {"name": "main", "image": "main:1"}
OLD = {"name": "old", "image": "old:1"}
VOLS = [{"name": "a", "emptyDir": {}}, {"name": "b", "emptyDir": {}}]


@pytest.mark.parametrize(
    ("base", "patch", "want"),
    [
        pytest.param(
            {"containers": [MAIN]},
            {"volumes": [{"name": "cache", "$patch": "delete"}]},
            {"containers": [MAIN], "volumes": []},
            id="delete-item-of-missing-list-leaves-empty-list",
        ),
        pytest.param(
            {"containers": [MAIN]},
            {"volumes": [{"name": "cache", "$patch": "delete"}, {"name": "keep", "emptyDir": {}}]},
            {"containers": [MAIN], "volumes": [{"name": "keep", "emptyDir": {}}]},
            id="missing-list-delete-and-add",
        ),
        pytest.param(
            {"containers": [MAIN]},
            {"containers": [{"name": "main", "env": [{"name": "A", "$patch": "delete"}]}]},
            {"containers": [{**MAIN, "env": []}]},
            id="nested-missing-list-delete",
        ),
        pytest.param(
            {"containers": [MAIN, OLD]},
            {
                "containers": [
                    {"$patch": "replace"},
                    {"name": "new", "image": "new:1"},
                    {"name": "old", "$patch": "delete"},
                ]
            },
            {"containers": [{"name": "new", "image": "new:1"}]},
            id="replace-marker-drops-deleted-items",
        ),
        pytest.param(
            {"containers": [MAIN, OLD]},
            {
                "containers": [
                    {"name": "new", "image": "new:1"},
                    {"name": "old", "$patch": "delete"},
                    {"$patch": "replace"},
                ]
            },
            {"containers": [{"name": "new", "image": "new:1"}]},
            id="replace-marker-last",
        ),
        pytest.param(
            {"containers": [MAIN], "volumes": VOLS},
            {"volumes": [{"$patch": "replace"}, {"name": "a", "$patch": "delete"}]},
            {"containers": [MAIN], "volumes": []},
            id="replace-marker-with-only-deletes",
        ),
        pytest.param(
            {"containers": [MAIN], "volumes": VOLS},
            {"volumes": [{"$patch": "delete"}]},
            {"containers": [MAIN]},
            id="delete-marker-removes-the-list",
        ),
        pytest.param(
            {"containers": [MAIN], "volumes": VOLS},
            {"volumes": [{"$patch": "merge"}, {"name": "c", "emptyDir": {}}]},
            {"containers": [MAIN], "volumes": [{"name": "c", "emptyDir": {}}, *VOLS]},
            id="merge-marker",
        ),
        pytest.param(
            {"containers": [MAIN], "volumes": VOLS},
            {"volumes": [{"name": "a", "$patch": "replace", "hostPath": {"path": "/x"}}]},
            {"containers": [MAIN], "volumes": VOLS},
            id="keyed-replace-keeps-the-original-item",
        ),
        pytest.param(
            {"containers": [MAIN]},
            {"volumes": [{"name": "a", "$patch": "replace", "hostPath": {"path": "/x"}}]},
            {"containers": [MAIN], "volumes": [{"name": "a", "hostPath": {"path": "/x"}}]},
            id="keyed-replace-on-missing-list-is-added",
        ),
        pytest.param(
            {"containers": [MAIN]},
            {"volumes": [{"$patch": "replace"}, {"name": "a"}]},
            {"containers": [MAIN], "volumes": [{"$patch": "replace"}]},
            id="replace-marker-on-missing-list-is-kept-alone",
        ),
        pytest.param(
            {"containers": [MAIN]},
            {
                "securityContext": {
                    "$patch": "replace",
                    "runAsUser": 1,
                    "seLinuxOptions": {"$patch": "delete"},
                }
            },
            {"containers": [MAIN], "securityContext": {"runAsUser": 1}},
            id="added-map-drops-nested-deleted-map",
        ),
        pytest.param(
            {"containers": [MAIN]},
            {"tolerations": [{"key": "a", "$patch": "delete"}]},
            {"containers": [MAIN], "tolerations": [{"key": "a", "$patch": "delete"}]},
            id="list-without-merge-key-is-taken-verbatim",
        ),
        pytest.param(
            {
                "containers": [
                    {"name": "c", "env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]}
                ]
            },
            {},
            {"containers": [{"name": "c", "env": [{"name": "A", "value": "2"}]}]},
            id="untouched-duplicate-keys-collapse",
        ),
        pytest.param(
            {"containers": [{"name": "c", "resizePolicy": [{"resourceName": "cpu"}]}]},
            {"containers": [{"name": "c", "resizePolicy": [{"resourceName": "memory"}]}]},
            {"containers": [{"name": "c", "resizePolicy": [{"resourceName": "memory"}]}]},
            id="fields-newer-than-kustomize-schema-are-replaced",
        ),
        pytest.param(
            {
                "containers": [
                    {"name": "b", "ports": [{"containerPort": 81}, {"containerPort": 81, "protocol": "UDP"}]}
                ]
            },
            {
                "containers": [
                    {
                        "name": "b",
                        "ports": [{"containerPort": 81, "protocol": "UDP", "name": "m", "$patch": "replace"}],
                    }
                ]
            },
            {
                "containers": [
                    {
                        "name": "b",
                        "ports": [
                            {"containerPort": 81},
                            {"containerPort": 81, "protocol": "UDP", "name": "m"},
                        ],
                    }
                ]
            },
            id="container-ports-keyed-by-port-and-protocol",
        ),
    ],
)
def test_strategic_merge_list_directives(
    base: dict[str, Any], patch: dict[str, Any], want: dict[str, Any]
) -> None:
    assert _merge_pod(base, patch) == want


def test_service_ports_delete_lacking_protocol_on_missing_list_keeps_item() -> None:
    base = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"selector": {"app": "a"}},
    }
    patch = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 80, "$patch": "delete"}, {"port": 81, "protocol": "UDP"}]},
    }
    merged = strategic_merge(base, patch, schema_for("", "Service"))
    assert merged["spec"]["ports"] == [{"port": 80}, {"port": 81, "protocol": "UDP"}]


def test_service_account_secrets_merge_by_name() -> None:
    base = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "sa"},
        "secrets": [{"name": "s1"}],
    }
    patch = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "sa"},
        "secrets": [{"name": "s2"}],
    }
    merged = strategic_merge(base, patch, schema_for("", "ServiceAccount"))
    assert merged["secrets"] == [{"name": "s2"}, {"name": "s1"}]


RESOURCES = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: src
data:
  str: web
  num: "80"
---
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
  - name: app
    image: app:1
    args: [x]
  - name: app2
    image: app2:1
  - name: myapp
    image: myapp:1
    ports:
    - containerPort: 8080
"""


def _build_replacement(
    tmp_path: Path, field: str, paths: list[str], *, create: bool = True, extra: str = ""
) -> dict[str, Any]:
    (tmp_path / "res.yaml").write_text(RESOURCES)
    fps = "".join(f"    - {p}\n" for p in paths)
    (tmp_path / "kustomization.yaml").write_text(
        "resources:\n- res.yaml\nreplacements:\n- source:\n    kind: ConfigMap\n    name: src\n"
        f"    fieldPath: {field}\n  targets:\n  - select:\n      kind: Pod\n    fieldPaths:\n{fps}"
        f"    options:\n      create: {'true' if create else 'false'}\n{extra}"
    )
    docs = list(yaml.safe_load_all(to_yaml(build(tmp_path))))
    pod: dict[str, Any] = docs[1]
    return pod


def test_create_list_index_into_missing_list(tmp_path: Path) -> None:
    pod = _build_replacement(tmp_path, "data.str", ["spec.containers.1.args.0", "spec.extra.0.0"])
    assert pod["spec"]["containers"][1]["args"] == ["web"]
    assert pod["spec"]["extra"] == [["web"]]


def test_create_appends_at_list_end(tmp_path: Path) -> None:
    pod = _build_replacement(tmp_path, "data.str", ["spec.containers.0.args.1", "spec.containers.3.name"])
    assert pod["spec"]["containers"][0]["args"] == ["x", "web"]
    assert pod["spec"]["containers"][3] == {"name": "web"}


@pytest.mark.parametrize(
    "path",
    [
        "spec.containers.0.args.2",  # past the end: kyaml appends only at index == length
        "spec.containers.-1.image",  # negative indexes are map keys to kyaml
        "spec.containers.0.image.x",  # into a scalar
        "metadata.*",  # * walks lists only
    ],
)
def test_create_paths_kyaml_refuses(tmp_path: Path, path: str) -> None:
    with pytest.raises(KustomizationError, match="unable to find"):
        _build_replacement(tmp_path, "data.str", [path])


def test_selector_is_an_unanchored_regular_expression(tmp_path: Path) -> None:
    pod = _build_replacement(tmp_path, "data.str", ["spec.containers.[name=app].image"], create=False)
    assert [c["image"] for c in pod["spec"]["containers"]] == ["web", "web", "web"]


def test_selector_creates_leaf_item(tmp_path: Path) -> None:
    pod = _build_replacement(
        tmp_path, "data.str", ["spec.containers.0.args.[=y]", "spec.tolerations.[key=y]"]
    )
    assert pod["spec"]["containers"][0]["args"] == ["x", "web"]
    assert pod["spec"]["tolerations"] == ["web"]


def test_created_scalar_reads_back_as_its_text(tmp_path: Path) -> None:
    pod = _build_replacement(
        tmp_path, "data.num", ["spec.containers.2.ports.1.containerPort", "spec.containers.0.newField"]
    )
    assert pod["spec"]["containers"][2]["ports"][1] == {"containerPort": 80}
    assert pod["spec"]["containers"][0]["newField"] == 80


def test_delimiter_past_the_end_appends_one_part(tmp_path: Path) -> None:
    opts = "      delimiter: ':'\n      index: 3\n"
    pod = _build_replacement(tmp_path, "data.str", ["spec.containers.0.image"], create=False, extra=opts)
    assert pod["spec"]["containers"][0]["image"] == "app:1:web"


def test_delimiter_on_created_field(tmp_path: Path) -> None:
    opts = "      delimiter: '/'\n      index: 2\n"
    pod = _build_replacement(tmp_path, "data.str", ["spec.containers.0.workingDir"], extra=opts)
    assert pod["spec"]["containers"][0]["workingDir"] == "/web"


def test_build_writes_annotations_back_as_strings(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"
        "  annotations:\n    x: 80\n    y: true\n    n: null\n    m: {a: 1}\n  labels:\n    z: 80\n"
    )
    (tmp_path / "kustomization.yaml").write_text("resources:\n- r.yaml\n")
    out = to_yaml(build(tmp_path))
    assert out == (
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  annotations:\n    m: ""\n    "n": "null"\n'
        '    x: "80"\n    "y": "true"\n  labels:\n    z: 80\n  name: a\n'
    )


def test_map_into_string_field_leaves_empty_text(tmp_path: Path) -> None:
    pod = _build_replacement(tmp_path, "data", ["spec.containers.0.image"], create=False)
    assert pod["spec"]["containers"][0]["image"] == ""


def test_map_into_number_field_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KustomizationError, match="cannot set scalar field"):
        _build_replacement(tmp_path, "data", ["spec.containers.2.ports.0.containerPort"], create=False)


@pytest.mark.parametrize(
    ("base", "patch", "want"),
    [
        (["c", "a", "b"], ["a", "b", "b", "c"], ["a", "b", "c"]),
        (["a", "b", "b"], [], ["a", "b"]),
        (None, ["b", "b", {"$patch": "replace"}, "c", "b"], ["b", "c"]),
        (["a"], [{"$patch": "replace"}, "c"], ["c"]),
    ],
)
def test_finalizers_merge_as_a_set(base: list[Any] | None, patch: list[Any], want: list[Any]) -> None:
    metadata: dict[str, Any] = {"name": "s"}
    if base is not None:
        metadata["finalizers"] = base
    base_obj = {"apiVersion": "v1", "kind": "Service", "metadata": metadata}
    patch_obj = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "finalizers": patch}}
    merged = strategic_merge(base_obj, patch_obj, schema_for("", "Service"))
    assert merged["metadata"]["finalizers"] == want


def _write_patch_case(tmp_path: Path, base_spec: str, patch_spec: str) -> None:
    head = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n"
    (tmp_path / "base.yaml").write_text(head + base_spec)
    (tmp_path / "patch.yaml").write_text(head + patch_spec)
    (tmp_path / "kustomization.yaml").write_text("resources:\n- base.yaml\npatches:\n- path: patch.yaml\n")


@pytest.mark.parametrize(
    "patch_spec",
    [
        "  volumes:\n  - name: a\n    $patch: foo\n",
        "  volumes:\n  - $patch: foo\n",
        "  securityContext:\n    $patch: foo\n",
    ],
)
def test_unknown_directive_against_an_original_fails(tmp_path: Path, patch_spec: str) -> None:
    _write_patch_case(tmp_path, "  volumes:\n  - name: a\n  securityContext: {runAsUser: 1}\n", patch_spec)
    with pytest.raises(KustomizationError, match="unknown patch strategy 'foo'"):
        build(tmp_path)


def test_unknown_directive_where_added_is_kept(tmp_path: Path) -> None:
    _write_patch_case(tmp_path, "  volumes:\n  - name: a\n", "  volumes:\n  - name: b\n    $patch: foo\n")
    doc = yaml.safe_load(to_yaml(build(tmp_path)))
    assert doc["spec"]["volumes"] == [{"name": "b", "$patch": "foo"}, {"name": "a"}]
