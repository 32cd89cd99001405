"""Properties of the strategic merge patch (hypothesis)."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from reconcilekit.kustomize._smp import schema_for, strategic_merge

KEYS = st.sampled_from(["a", "b", "c", "name", "image", "value"])
SCALARS = st.one_of(st.integers(-5, 5), st.text(alphabet="xyz", max_size=3), st.booleans())


def _trees(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    return st.recursive(
        SCALARS,
        lambda children: st.one_of(
            st.lists(children, max_size=3),
            st.dictionaries(KEYS, children, max_size=4),
        ),
        max_leaves=max_leaves,
    )


OBJECTS = st.dictionaries(KEYS, _trees(), max_size=5)
NAMES = st.sampled_from(["main", "side", "init", "extra"])
CONTAINERS = st.lists(
    st.fixed_dictionaries({"name": NAMES, "image": st.sampled_from(["a", "b", "c"])}),
    max_size=4,
    unique_by=lambda c: c["name"],
)
DEPLOY_SCHEMA = schema_for("apps", "Deployment")


def deployment(containers: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"containers": containers}}},
    }


@given(OBJECTS)
def test_empty_patch_is_identity(base: dict[str, Any]) -> None:
    original = copy.deepcopy(base)
    assert strategic_merge(copy.deepcopy(base), {}, None) == original


@given(OBJECTS, OBJECTS)
def test_patch_applied_twice_equals_once(base: dict[str, Any], patch: dict[str, Any]) -> None:
    once = strategic_merge(copy.deepcopy(base), copy.deepcopy(patch), None)
    twice = strategic_merge(copy.deepcopy(once), copy.deepcopy(patch), None)
    assert twice == once


@given(OBJECTS, OBJECTS)
def test_patched_scalars_win(base: dict[str, Any], patch: dict[str, Any]) -> None:
    merged = strategic_merge(copy.deepcopy(base), copy.deepcopy(patch), None)
    for key, value in patch.items():
        if not isinstance(value, dict | list):
            assert merged[key] == value


@given(OBJECTS, OBJECTS)
def test_untouched_keys_are_kept(base: dict[str, Any], patch: dict[str, Any]) -> None:
    merged = strategic_merge(copy.deepcopy(base), copy.deepcopy(patch), None)
    for key, value in base.items():
        if key not in patch:
            assert merged[key] == value


@given(OBJECTS)
def test_patch_with_itself_is_identity(base: dict[str, Any]) -> None:
    assert strategic_merge(copy.deepcopy(base), copy.deepcopy(base), None) == base


@given(CONTAINERS, CONTAINERS)
@settings(max_examples=200)
def test_containers_merge_by_name(base: list[dict[str, Any]], patch: list[dict[str, Any]]) -> None:
    merged = strategic_merge(deployment(copy.deepcopy(base)), deployment(copy.deepcopy(patch)), DEPLOY_SCHEMA)
    out = merged["spec"]["template"]["spec"]["containers"]
    names = [c["name"] for c in out]
    # Every container of either side appears exactly once: patch order first, then the rest of the base.
    patch_names = [c["name"] for c in patch]
    assert names == patch_names + [c["name"] for c in base if c["name"] not in patch_names]
    images = {c["name"]: c["image"] for c in out}
    for c in patch:
        assert images[c["name"]] == c["image"]


@given(CONTAINERS, NAMES)
def test_delete_directive_removes_only_that_element(base: list[dict[str, Any]], victim: str) -> None:
    patch = deployment([{"name": victim, "$patch": "delete"}])
    merged = strategic_merge(deployment(copy.deepcopy(base)), patch, DEPLOY_SCHEMA)
    out = merged["spec"]["template"]["spec"]["containers"]
    assert out == [c for c in base if c["name"] != victim]


@given(CONTAINERS, CONTAINERS)
def test_replace_directive_replaces_the_list(base: list[dict[str, Any]], new: list[dict[str, Any]]) -> None:
    patch = deployment([{"$patch": "replace"}, *copy.deepcopy(new)])
    merged = strategic_merge(deployment(copy.deepcopy(base)), patch, DEPLOY_SCHEMA)
    assert merged["spec"]["template"]["spec"]["containers"] == new


@given(OBJECTS, KEYS)
def test_null_deletes_a_key(base: dict[str, Any], key: str) -> None:
    merged = strategic_merge(copy.deepcopy(base), {key: None}, None)
    assert key not in merged


@given(OBJECTS)
def test_delete_directive_at_top_deletes_the_object(base: dict[str, Any]) -> None:
    assert strategic_merge(copy.deepcopy(base), {"$patch": "delete"}, None) is None
