"""Bounded YAML parsing and the plain manifest loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconcilekit import (
    Artifact,
    Context,
    LoadManifests,
    PathOutsideRootError,
    ResourceSet,
    YAMLError,
    YAMLLimitError,
)
from reconcilekit import load_documents as load

pytestmark = pytest.mark.anyio

BOMB = """
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
j: &j [*i,*i,*i,*i,*i,*i,*i,*i,*i]
k: &k [*j,*j,*j,*j,*j,*j,*j,*j,*j]
l: &l [*k,*k,*k,*k,*k,*k,*k,*k,*k]
m: &m [*l,*l,*l,*l,*l,*l,*l,*l,*l]
n: &n [*m,*m,*m,*m,*m,*m,*m,*m,*m]
o: &o [*n,*n,*n,*n,*n,*n,*n,*n,*n]
p: &p [*o,*o,*o,*o,*o,*o,*o,*o,*o]
q: &q [*p,*p,*p,*p,*p,*p,*p,*p,*p]
r: &r [*q,*q,*q,*q,*q,*q,*q,*q,*q]
s: &s [*r,*r,*r,*r,*r,*r,*r,*r,*r]
t: &t [*s,*s,*s,*s,*s,*s,*s,*s,*s]
u: &u [*t,*t,*t,*t,*t,*t,*t,*t,*t]
v: &v [*u,*u,*u,*u,*u,*u,*u,*u,*u]
w: &w [*v,*v,*v,*v,*v,*v,*v,*v,*v]
x: &x [*w,*w,*w,*w,*w,*w,*w,*w,*w]
y: &y [*x,*x,*x,*x,*x,*x,*x,*x,*x]
z: &z [*y,*y,*y,*y,*y,*y,*y,*y,*y]
"""


def test_multi_documents_and_empty_ones() -> None:
    assert load("a: 1\n---\n---\nb: 2\n", "x.yaml") == [{"a": 1}, {"b": 2}]


def test_yaml_1_2_scalars_as_flux_reads_them() -> None:
    # kyaml (go-yaml v3) keeps yes/on as strings; PyYAML's YAML 1.1 would make them booleans.
    assert load("a: yes\nb: on\nc: true\nd: 0x1F\ne: 1.5\nf: ~\n", "s.yaml") == [
        {"a": "yes", "b": "on", "c": True, "d": 31, "e": 1.5, "f": None}
    ]


def test_alias_bomb_is_refused() -> None:
    with pytest.raises(YAMLLimitError, match=r"bomb\.yaml: .*aliases"):
        load(BOMB, "bomb.yaml")


def test_a_few_anchors_are_fine() -> None:
    assert load("a: &x {k: v}\nb: *x\n", "ok.yaml") == [{"a": {"k": "v"}, "b": {"k": "v"}}]


def test_malformed_yaml_names_the_file() -> None:
    with pytest.raises(YAMLError, match=r"(?s)^broken\.yaml: .*line 2"):
        load("a: [1, 2\n", "broken.yaml")


CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"


async def test_load_manifests_reads_files_in_order_and_flattens_lists(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text(CM.format(name="b"))
    (tmp_path / "a.yml").write_text(CM.format(name="a") + "---\n" + CM.format(name="a2"))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "list.yaml").write_text(
        "apiVersion: v1\nkind: List\nitems:\n- " + CM.format(name="c").replace("\n", "\n  ").rstrip() + "\n"
    )
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.yaml").write_text(CM.format(name="hidden"))
    (tmp_path / "README.md").write_text("not yaml")
    ctx = Context(artifact=Artifact("r", "sha256:0", tmp_path))
    out = await LoadManifests().transform(ResourceSet(), ctx)
    assert [r.name for r in out] == ["a", "a2", "b", "c"]


async def test_load_manifests_refuses_symlinks_out_of_the_artifact(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text(CM.format(name="secret"))
    root = tmp_path / "repo"
    root.mkdir()
    (root / "evil.yaml").symlink_to(outside)
    ctx = Context(artifact=Artifact("r", "sha256:0", root))
    with pytest.raises(PathOutsideRootError, match="security"):
        await LoadManifests().transform(ResourceSet(), ctx)
    with pytest.raises(PathOutsideRootError):
        await LoadManifests(path="../").transform(ResourceSet(), ctx)
