"""Value types: identity, immutability conventions, duplicate detection."""

from __future__ import annotations

from typing import Any

import pytest

from reconcilekit import (
    ApplyReport,
    Condition,
    DuplicateResourceError,
    InvalidResourceError,
    ObjectRef,
    Resource,
    ResourceSet,
    ValidationError,
    redact_url,
)


def obj(kind: str, name: str, ns: str | None = None, api: str = "v1", **extra: Any) -> Resource:
    md: dict[str, Any] = {"name": name}
    if ns:
        md["namespace"] = ns
    return Resource.from_dict({"apiVersion": api, "kind": kind, "metadata": md, **extra})


def test_resource_identity_ignores_version() -> None:
    a = obj("Deployment", "web", "prod", api="apps/v1")
    b = obj("Deployment", "web", "prod", api="apps/v1beta1")
    assert a.ref == b.ref == ObjectRef("apps", "Deployment", "prod", "web")
    assert str(a.ref) == "Deployment.apps/prod/web"
    assert a.version == "v1"
    assert a.group == "apps"
    assert a != b  # bodies differ


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"kind": "ConfigMap", "metadata": {"name": "x"}}, "apiVersion"),
        ({"apiVersion": "v1", "metadata": {"name": "x"}}, "kind"),
        ({"apiVersion": "v1", "kind": "ConfigMap"}, "metadata"),
        ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}, "metadata.name"),
        ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": 3}}, "namespace"),
    ],
)
def test_invalid_resources_are_typed_errors(body: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidResourceError, match=reason) as info:
        Resource.from_dict(body)
    assert isinstance(info.value, ValidationError)


def test_evolve_and_to_dict_never_touch_the_original() -> None:
    a = obj("ConfigMap", "app", data={"k": "v"})
    copy = a.to_dict()
    copy["data"]["k"] = "changed"
    assert a.body["data"]["k"] == "v"
    b = a.evolve(copy)
    assert b.body["data"]["k"] == "changed"
    assert a.body["data"]["k"] == "v"


def test_resource_set_is_ordered_unique_and_replaceable() -> None:
    a, b = obj("ConfigMap", "a"), obj("ConfigMap", "b")
    rs = ResourceSet([a, b])
    assert list(rs) == [a, b]
    assert a.ref in rs
    assert rs[b.ref] is b
    assert rs.get(ObjectRef("", "ConfigMap", None, "zzz")) is None
    with pytest.raises(DuplicateResourceError, match="ConfigMap/a"):
        ResourceSet([a, b, obj("ConfigMap", "a", data={"x": "y"})])
    changed = a.evolve({**a.to_dict(), "data": {"n": "1"}})
    rs2 = rs.replace(changed, obj("Secret", "s"))
    assert [r.name for r in rs2] == ["a", "b", "s"]
    assert rs2[a.ref].body["data"] == {"n": "1"}
    assert rs[a.ref] is a
    assert [r.name for r in rs2.filter(lambda r: r.kind == "Secret")] == ["s"]
    assert ResourceSet.from_dicts(rs2.to_dicts()) == rs2


def test_apply_report_summary() -> None:
    ref = ObjectRef("", "ConfigMap", None, "a")
    report = ApplyReport(created=[ref], unchanged=[ref, ref], drifted=[ref])
    assert report.changed
    assert report.applied == (ref,)
    assert report.summary() == "1 created, 0 configured, 2 unchanged, 0 pruned, 1 drifted"
    assert not ApplyReport().changed


def test_condition_keeps_transition_time_while_status_is_unchanged() -> None:
    first = Condition("Ready", "True", "Succeeded")
    again = Condition("Ready", "True", "Succeeded", "second run").with_transition_from(first)
    assert again.last_transition_time == first.last_transition_time
    flipped = Condition("Ready", "False", "Failed").with_transition_from(first)
    assert flipped.last_transition_time >= first.last_transition_time
    assert flipped.last_transition_time is not first.last_transition_time


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://bob:s3cret@git.example/repo.git", "https://***@git.example/repo.git"),
        ("https://token@git.example:8443/r", "https://***@git.example:8443/r"),
        ("ssh://git@host/repo", "ssh://***@host/repo"),
        ("https://git.example/repo.git", "https://git.example/repo.git"),
        ("/local/path", "/local/path"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected
    assert "s3cret" not in redact_url(url)
