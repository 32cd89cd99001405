"""Load restrictions, cycles, remote refs and input limits: each raises a typed error naming the file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconcilekit import ValidationError
from reconcilekit import _yaml as core_yaml
from reconcilekit.kustomize import (
    CycleError,
    FileOutsideRootError,
    LimitExceededError,
    MalformedYAMLError,
    MissingFileError,
    NotSupportedError,
    UnknownFieldError,
    build,
)
from reconcilekit.kustomize import _yaml as kyaml

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  k: v\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_dotdot_file_outside_root_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "secret.yaml", CM.format(name="secret"))
    write(tmp_path / "app" / "kustomization.yaml", "resources:\n- ../secret.yaml\n")
    with pytest.raises(FileOutsideRootError) as info:
        build(tmp_path / "app")
    assert "is not in or below" in str(info.value)
    assert "secret.yaml" in str(info.value)
    assert isinstance(info.value, ValidationError)


def test_symlink_to_outside_file_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "outside.yaml", CM.format(name="outside"))
    app = tmp_path / "app"
    write(app / "kustomization.yaml", "resources:\n- link.yaml\n")
    os.symlink(tmp_path / "outside.yaml", app / "link.yaml")
    with pytest.raises(FileOutsideRootError) as info:
        build(app)
    assert "link.yaml" in str(info.value)


def test_patch_file_outside_root_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "patch.yaml", CM.format(name="a"))
    write(tmp_path / "app" / "cm.yaml", CM.format(name="a"))
    write(tmp_path / "app" / "kustomization.yaml", "resources: [cm.yaml]\npatches:\n- path: ../patch.yaml\n")
    with pytest.raises(FileOutsideRootError):
        build(tmp_path / "app")


def test_generator_file_outside_root_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "passwd", "root:x:0:0\n")
    write(
        tmp_path / "app" / "kustomization.yaml",
        "secretGenerator:\n- name: s\n  files:\n  - ../passwd\n",
    )
    with pytest.raises(FileOutsideRootError):
        build(tmp_path / "app")


def test_load_restrictor_none_allows_outside_files(tmp_path: Path) -> None:
    write(tmp_path / "shared.yaml", CM.format(name="shared"))
    write(tmp_path / "app" / "kustomization.yaml", "resources:\n- ../shared.yaml\n")
    built = build(tmp_path / "app", load_restrictor="none")
    assert [r.name for r in built] == ["shared"]


def test_base_outside_the_root_is_allowed(tmp_path: Path) -> None:
    # kustomize lets overlays use ../base directories; only files are restricted.
    write(tmp_path / "base" / "cm.yaml", CM.format(name="cm"))
    write(tmp_path / "base" / "kustomization.yaml", "resources: [cm.yaml]\n")
    write(tmp_path / "overlay" / "kustomization.yaml", "resources: [../base]\nnamePrefix: o-\n")
    assert [r.name for r in build(tmp_path / "overlay")] == ["o-cm"]


def test_cycle_between_bases_is_detected(tmp_path: Path) -> None:
    write(tmp_path / "a" / "kustomization.yaml", "resources: [../b]\n")
    write(tmp_path / "b" / "kustomization.yaml", "resources: [../a]\n")
    with pytest.raises(CycleError) as info:
        build(tmp_path / "a")
    assert "cycle detected" in str(info.value)


def test_base_including_its_parent_is_a_cycle(tmp_path: Path) -> None:
    write(tmp_path / "kustomization.yaml", "resources: [sub]\n")
    write(tmp_path / "sub" / "kustomization.yaml", "resources: [..]\n")
    with pytest.raises(CycleError):
        build(tmp_path)


@pytest.mark.parametrize(
    "ref",
    [
        "https://github.com/org/repo//deploy?ref=v1",
        "github.com/org/repo/deploy",
        "git@github.com:org/repo.git",
    ],
)
def test_remote_refs_refused_unless_enabled(tmp_path: Path, ref: str) -> None:
    write(tmp_path / "kustomization.yaml", f"resources:\n- {ref}\n")
    with pytest.raises(NotSupportedError) as info:
        build(tmp_path)
    assert "allow_remote=False" in str(info.value)
    # With allow_remote=True these are fetched: tests/kustomize/test_remote.py (loopback servers only).


def test_alias_bomb_is_bounded(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    bomb = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\ndata:\n" + "".join(
        f"  {line}\n" for line in lines
    )
    write(tmp_path / "bomb.yaml", bomb)
    write(tmp_path / "kustomization.yaml", "resources: [bomb.yaml]\n")
    with pytest.raises(LimitExceededError) as info:
        build(tmp_path)
    assert "bomb.yaml" in str(info.value)


def test_aliases_within_limits_are_expanded_into_copies() -> None:
    docs = kyaml.load_documents("a: &x {k: v}\nb: *x\n", "t.yaml")
    assert docs == [{"a": {"k": "v"}, "b": {"k": "v"}}]
    assert docs[0]["a"] is not docs[0]["b"]


def test_oversized_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The limit lives in the shared reader (reconcilekit._yaml) that kustomize and LoadManifests both use.
    monkeypatch.setattr(core_yaml, "MAX_FILE_BYTES", 100)
    write(tmp_path / "big.yaml", CM.format(name="big") + "  pad: " + "x" * 200 + "\n")
    write(tmp_path / "kustomization.yaml", "resources: [big.yaml]\n")
    with pytest.raises(LimitExceededError) as info:
        build(tmp_path)
    assert "big.yaml" in str(info.value)


def test_deep_flow_nesting_is_refused() -> None:
    with pytest.raises(LimitExceededError):
        kyaml.load_documents("a: " + "[" * 100_000 + "]" * 100_000 + "\n", "deep.yaml")


def test_deep_block_nesting_is_refused() -> None:
    text = "".join(" " * i + f"k{i}:\n" for i in range(kyaml.MAX_DEPTH + 10)) + " " * 600 + "v\n"
    with pytest.raises(LimitExceededError):
        kyaml.load_documents(text, "deep.yaml")


def test_malformed_yaml_names_the_file(tmp_path: Path) -> None:
    write(tmp_path / "bad.yaml", "apiVersion: v1\nkind: [unclosed\n")
    write(tmp_path / "kustomization.yaml", "resources: [bad.yaml]\n")
    with pytest.raises(MalformedYAMLError) as info:
        build(tmp_path)
    assert "bad.yaml" in str(info.value)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    write(tmp_path / "kustomization.yaml", "resources: [nope.yaml]\n")
    with pytest.raises(MissingFileError) as info:
        build(tmp_path)
    assert "nope.yaml" in str(info.value)
    with pytest.raises(MissingFileError):
        build(tmp_path / "does-not-exist")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MissingFileError):
        build(empty)


def test_unknown_field_names_file_and_field(tmp_path: Path) -> None:
    write(tmp_path / "kustomization.yaml", "resourcez: []\n")
    with pytest.raises(UnknownFieldError) as info:
        build(tmp_path)
    assert info.value.field == "resourcez"
    assert "kustomization.yaml" in str(info.value)
