"""Each builtin used alone as a reconcilekit Transformer, and Kustomize/Substitute in a pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconcilekit import Artifact, Context, Resource, ResourceSet, Transformer
from reconcilekit.kustomize import (
    Annotations,
    ConfigMapGenerator,
    FileOutsideRootError,
    Image,
    Images,
    KustomizationError,
    Kustomize,
    Labels,
    NamePrefix,
    Namespace,
    NameSuffix,
    Patch,
    PatchTargetNotFoundError,
    Replacements,
    Replicas,
    SecretGenerator,
    Substitute,
    build,
    to_yaml,
)

pytestmark = pytest.mark.anyio


def deployment(name: str = "web", cm: str = "cfg") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "main",
                            "image": "nginx:1.0",
                            "envFrom": [{"configMapRef": {"name": cm}}],
                        }
                    ],
                    "initContainers": [{"name": "init", "image": "nginx"}],
                },
            },
        },
    }


def configmap(name: str = "cfg") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}}


def rs(*bodies: dict[str, Any]) -> ResourceSet:
    return ResourceSet.from_dicts(bodies)


CTX = Context()


def by_kind(resources: ResourceSet, kind: str) -> Resource:
    return next(r for r in resources if r.kind == kind)


def test_builtins_conform_to_the_transformer_protocol() -> None:
    transformers: list[Transformer] = [
        Namespace("a"),
        NamePrefix("p-"),
        NameSuffix("-s"),
        Labels({"a": "b"}),
        Annotations({"a": "b"}),
        Images([Image("nginx", new_tag="2")]),
        Replicas({"web": 2}),
        Patch("[]", target={"kind": "X"}),
        ConfigMapGenerator("c", literals=["a=b"]),
        SecretGenerator("s", literals=["a=b"]),
        Replacements([]),
        Kustomize("."),
        Substitute({}),
    ]
    assert all(isinstance(t, Transformer) for t in transformers)


async def test_namespace_sets_namespaced_objects_only() -> None:
    crb = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "cr"},
    }
    out = await Namespace("prod").transform(rs(deployment(), crb), CTX)
    assert by_kind(out, "Deployment").namespace == "prod"
    assert by_kind(out, "ClusterRole").namespace is None


async def test_prefix_and_suffix_rewrite_references() -> None:
    out = await NamePrefix("p-").transform(rs(deployment(), configmap()), CTX)
    out = await NameSuffix("-s").transform(out, CTX)
    dep = by_kind(out, "Deployment")
    assert dep.name == "p-web-s"
    assert by_kind(out, "ConfigMap").name == "p-cfg-s"
    container = dep.body["spec"]["template"]["spec"]["containers"][0]
    assert container["envFrom"][0]["configMapRef"]["name"] == "p-cfg-s"


async def test_transformers_leave_their_input_unchanged() -> None:
    original = rs(deployment())
    before = original.to_dicts()
    await NamePrefix("p-").transform(original, CTX)
    await Labels({"x": "y"}, include_selectors=True).transform(original, CTX)
    assert original.to_dicts() == before


async def test_labels_options() -> None:
    plain = await Labels({"team": "a"}).transform(rs(deployment()), CTX)
    body = by_kind(plain, "Deployment").body
    assert body["metadata"]["labels"] == {"team": "a"}
    assert "team" not in body["spec"]["template"]["metadata"]["labels"]
    templates = await Labels({"team": "a"}, include_templates=True).transform(rs(deployment()), CTX)
    body = by_kind(templates, "Deployment").body
    assert body["spec"]["template"]["metadata"]["labels"]["team"] == "a"
    assert "team" not in body["spec"]["selector"]["matchLabels"]
    selectors = await Labels({"team": "a"}, include_selectors=True).transform(rs(deployment()), CTX)
    assert by_kind(selectors, "Deployment").body["spec"]["selector"]["matchLabels"]["team"] == "a"


async def test_annotations_reach_pod_templates() -> None:
    out = await Annotations({"note": "x"}).transform(rs(deployment()), CTX)
    body = by_kind(out, "Deployment").body
    assert body["metadata"]["annotations"] == {"note": "x"}
    assert body["spec"]["template"]["metadata"]["annotations"] == {"note": "x"}


async def test_images_rewrite_containers_and_init_containers() -> None:
    out = await Images([Image("nginx", new_name="registry.local/nginx", new_tag="2.0")]).transform(
        rs(deployment()), CTX
    )
    spec = by_kind(out, "Deployment").body["spec"]["template"]["spec"]
    assert spec["containers"][0]["image"] == "registry.local/nginx:2.0"
    assert spec["initContainers"][0]["image"] == "registry.local/nginx:2.0"
    digest = "sha256:" + "a" * 64
    out = await Images([Image("nginx", digest=digest)]).transform(rs(deployment()), CTX)
    spec = by_kind(out, "Deployment").body["spec"]["template"]["spec"]
    assert spec["containers"][0]["image"] == f"nginx@{digest}"


async def test_replicas() -> None:
    out = await Replicas({"web": 5}).transform(rs(deployment()), CTX)
    assert by_kind(out, "Deployment").body["spec"]["replicas"] == 5


async def test_strategic_merge_patch_by_name_and_json_patch_by_target() -> None:
    smp = Patch(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n"
        "  template:\n    spec:\n      containers:\n      - name: main\n        image: patched\n"
    )
    out = await smp.transform(rs(deployment()), CTX)
    containers = by_kind(out, "Deployment").body["spec"]["template"]["spec"]["containers"]
    assert containers[0]["image"] == "patched"
    assert containers[0]["envFrom"]  # merged, not replaced
    json6902 = Patch([{"op": "add", "path": "/spec/replicas", "value": 3}], target={"kind": "Deploy.*"})
    out = await json6902.transform(rs(deployment()), CTX)
    assert by_kind(out, "Deployment").body["spec"]["replicas"] == 3


async def test_patch_errors_are_typed() -> None:
    missing = Patch({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nope"}})
    with pytest.raises(PatchTargetNotFoundError):
        await missing.transform(rs(deployment()), CTX)
    with pytest.raises(KustomizationError):
        await Patch([{"op": "remove", "path": "/spec/nothere"}], target={"kind": "Deployment"}).transform(
            rs(deployment()), CTX
        )


async def test_configmap_generator_hash_matches_kustomize() -> None:
    # kustomize's api/krusty configmaps tests: literals a=1 hash as cfg-h29d89cmmt (checked with kubectl).
    out = await ConfigMapGenerator("cfg", literals=["a=1"]).transform(rs(deployment()), CTX)
    cm = by_kind(out, "ConfigMap")
    assert cm.name == "cfg-h29d89cmmt"
    container = by_kind(out, "Deployment").body["spec"]["template"]["spec"]["containers"][0]
    assert container["envFrom"][0]["configMapRef"]["name"] == "cfg-h29d89cmmt"


async def test_generators_read_files_below_the_artifact(tmp_path: Path) -> None:
    (tmp_path / "outside.txt").write_text("not yours\n")
    art = tmp_path / "artifact"
    art.mkdir()
    (art / "app.properties").write_text("x=1\n")
    (art / "secret.env").write_text("TOKEN=abc\n")
    ctx = Context(artifact=Artifact("rev", "sha256:0", art))
    out = await ConfigMapGenerator("cfg", files=["conf=app.properties"]).transform(ResourceSet(), ctx)
    assert by_kind(out, "ConfigMap").body["data"] == {"conf": "x=1\n"}
    out = await SecretGenerator("s", envs=["secret.env"], type="Opaque").transform(ResourceSet(), ctx)
    assert by_kind(out, "Secret").body["data"] == {"TOKEN": "YWJj"}
    with pytest.raises(FileOutsideRootError):
        await ConfigMapGenerator("x", files=["../outside.txt"]).transform(ResourceSet(), ctx)


async def test_replacements_copy_a_field() -> None:
    rep = Replacements(
        [
            {
                "source": {"kind": "ConfigMap", "name": "cfg", "fieldPath": "data.k"},
                "targets": [
                    {
                        "select": {"kind": "Deployment"},
                        "fieldPaths": ["spec.template.spec.containers.[name=main].image"],
                        "options": {"delimiter": ":", "index": 1},
                    }
                ],
            }
        ]
    )
    out = await rep.transform(rs(deployment(), configmap()), CTX)
    containers = by_kind(out, "Deployment").body["spec"]["template"]["spec"]["containers"]
    assert containers[0]["image"] == "nginx:v"


async def test_kustomize_reads_the_artifact(tmp_path: Path) -> None:
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  k: v\n"
    )
    (tmp_path / "deploy" / "kustomization.yaml").write_text("resources: [cm.yaml]\nnamespace: ns\n")
    ctx = Context(artifact=Artifact("main@sha1:abc", "sha256:0", tmp_path))
    out = await Kustomize("deploy").transform(ResourceSet(), ctx)
    assert out == build(tmp_path / "deploy")
    with pytest.raises(KustomizationError):
        await Kustomize("../..").transform(ResourceSet(), ctx)


async def test_substitute_variables_defaults_and_escapes() -> None:
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm-${env}"},
        "data": {"a": "${region:=eu}", "b": "$${literal}", "c": "x-${env}-y"},
        "spec": {"replicas": "${replicas}"},
    }
    out = await Substitute({"env": "prod", "replicas": "3"}).transform(rs(body), CTX)
    res = next(iter(out))
    assert res.name == "cm-prod"
    assert res.body["data"] == {"a": "eu", "b": "${literal}", "c": "x-prod-y"}
    # Substitution happens on the YAML text, as in Flux: an unquoted number becomes a number.
    assert res.body["spec"]["replicas"] == 3
    lax = await Substitute({}).transform(rs(body | {"metadata": {"name": "cm"}}), CTX)
    assert next(iter(lax)).body["data"]["c"] == "x--y"
    with pytest.raises(KustomizationError, match="env"):
        await Substitute({}, strict=True).transform(rs(body | {"metadata": {"name": "cm"}}), CTX)


async def test_substitute_skips_disabled_objects() -> None:
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm", "annotations": {"kustomize.toolkit.fluxcd.io/substitute": "disabled"}},
        "data": {"a": "${x}"},
    }
    out = await Substitute({"x": "1"}).transform(rs(body), CTX)
    assert next(iter(out)).body["data"]["a"] == "${x}"


def test_to_yaml_of_empty_set_is_empty() -> None:
    assert to_yaml(ResourceSet()) == ""


async def test_substitute_checks_names_strips_newlines_and_honours_the_label() -> None:
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm"},
        "data": {"a": "${x}", "b": "$x"},
    }
    with pytest.raises(KustomizationError, match="invalid"):
        await Substitute({"1bad": "v"}).transform(rs(body), CTX)
    out = await Substitute({"x": "multi\nline"}).transform(rs(body), CTX)
    assert next(iter(out)).body["data"] == {"a": "multiline", "b": "$x"}
    labelled = body | {
        "metadata": {"name": "cm", "labels": {"kustomize.toolkit.fluxcd.io/substitute": "disabled"}}
    }
    out = await Substitute({"x": "1"}).transform(rs(labelled), CTX)
    assert next(iter(out)).body["data"]["a"] == "${x}"
