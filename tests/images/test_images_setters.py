"""apply_setters: Flux's marker semantics, byte-for-byte preservation, typed errors, all-or-nothing writes."""

from __future__ import annotations

import copy
import os
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconcilekit import ObjectRef, ValidationError
from reconcilekit.images import (
    InvalidYAMLError,
    MalformedMarkerError,
    SetterError,
    UnknownPolicyError,
    apply_setters,
    parse_image_reference,
)

IMAGES = {"automation-ns:policy": "index.repo.fake/updated:v1.0.1"}


def _write(root: Path, rel: str, text: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_bytes(text.encode())
    return path


def _age(path: Path) -> int:
    """Set mtime into the past and return it, so a rewrite is visible."""
    os.utime(path, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    return path.stat().st_mtime_ns


# -- Flux's pkg/update/testdata/setters, with bytes kept instead of re-indented ---------------------------

MARKED = """apiVersion: batch/v1beta1
kind: CronJob
metadata:
  name: foo
  namespace: bar
spec:
  schedule: "*/1 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - name: c
            image: image:v1.0.0 # {"$imagepolicy": "automation-ns:policy"}
"""

KUSTOMIZATION = """# This is not intended to be a working kustomization
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- unimportant.yaml
images:
- name: container
  newName: replaced # {"$imagepolicy": "automation-ns:policy:name"}
  newTag: v1 # {"$imagepolicy": "automation-ns:policy:tag"}
"""

OTHERNS = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: foo
  namespace: bar
spec:
  template:
    spec:
      containers:
      - name: c
        image: user:v1.0.0 # {"$imagepolicy": "other-namespace:policy"}
"""

UNMARKED = """apiVersion: v1
kind: ConfigMap
metadata:
  name: plain
data:
  image: image:v1.0.0
"""


def test_flux_setters_testdata(tmp_path: Path) -> None:
    _write(tmp_path, "marked.yaml", MARKED)
    _write(tmp_path, "kustomization.yaml", KUSTOMIZATION)
    _write(tmp_path, "kustomization.yml", KUSTOMIZATION)
    _write(tmp_path, "Kustomization", KUSTOMIZATION)  # not a .yaml/.yml file: never touched
    otherns = _write(tmp_path, "otherns.yaml", OTHERNS)
    unmarked = _write(tmp_path, "unmarked.yaml", UNMARKED)
    before = {p: _age(p) for p in (otherns, unmarked)}

    changes = apply_setters(tmp_path, IMAGES, unknown_policy="skip")

    assert (tmp_path / "marked.yaml").read_text() == MARKED.replace(
        "image: image:v1.0.0", "image: index.repo.fake/updated:v1.0.1"
    )
    expected_kustomization = KUSTOMIZATION.replace(
        "newName: replaced", "newName: index.repo.fake/updated"
    ).replace("newTag: v1 ", "newTag: v1.0.1 ")
    assert (tmp_path / "kustomization.yaml").read_text() == expected_kustomization
    assert (tmp_path / "kustomization.yml").read_text() == expected_kustomization
    assert (tmp_path / "Kustomization").read_text() == KUSTOMIZATION
    assert {p: p.stat().st_mtime_ns for p in before} == before  # untouched files are not rewritten
    assert otherns.read_text() == OTHERNS

    by_file = {(c.file, c.field): c for c in changes}
    cron = by_file["marked.yaml", "spec.jobTemplate.spec.template.spec.containers[0].image"]
    assert cron.object == ObjectRef("batch", "CronJob", "bar", "foo")
    assert (cron.old, cron.new, cron.setter, cron.policy, cron.line) == (
        "image:v1.0.0",
        "index.repo.fake/updated:v1.0.1",
        "image",
        "automation-ns:policy",
        14,
    )
    tag = by_file["kustomization.yaml", "images[0].newTag"]
    assert (tag.old, tag.new, tag.setter, tag.object) == ("v1", "v1.0.1", "tag", None)
    name = by_file["kustomization.yml", "images[0].newName"]
    assert (name.old, name.new, name.setter) == ("replaced", "index.repo.fake/updated", "name")
    assert len(changes) == 5


def test_unknown_policy_is_an_error_by_default(tmp_path: Path) -> None:
    good = _write(tmp_path, "a/marked.yaml", MARKED)
    _write(tmp_path, "b/otherns.yaml", OTHERNS)
    mtime = _age(good)
    with pytest.raises(UnknownPolicyError) as exc:
        apply_setters(tmp_path, IMAGES)
    assert exc.value.file == "b/otherns.yaml"
    assert exc.value.line == 11
    assert "b/otherns.yaml:11" in str(exc.value)
    assert "other-namespace:policy" in str(exc.value)
    # Nothing was written, not even the file that could have been changed.
    assert good.read_text() == MARKED
    assert good.stat().st_mtime_ns == mtime


# -- byte preservation ----------------------------------------------------------------------------------


def test_only_the_scalar_bytes_change(tmp_path: Path) -> None:
    original = (
        '# leading comment, with a fake marker # {"$imagepolicy": "nope:nope"}\n'
        "apiVersion: apps/v1   # odd spacing kept\n"
        "kind: Deployment\n"
        "metadata:\n"
        "  name: web\n"
        "  annotations:\n"
        '    note: \'x # {"$imagepolicy": "nope:inside-a-string"}\'\n'
        "spec:\n"
        "    template:\n"
        "        spec:\n"
        "            containers:\n"
        "              - name: a\n"
        '                image: "reg.example:5000/app:1.0.0"    # {"$imagepolicy": "ns:app"}\n'
        "              - name: b\n"
        '                image: \'reg.example:5000/app:1.0.0\' # {"$imagepolicy": "ns:app"}\n'
        '              - {name: c, image: reg.example:5000/app:1.0.0} # {"$imagepolicy": "ns:app"}\n'
        "              - name: d\n"
        '                image: reg.example:5000/app:1.0.0 #{"$imagepolicy":"ns:app"}\n'
        '            initContainers: [{name: i, image: "other:1"}]\n'
        "            args:\n"
        "              - --tag=1.0.0\n"
        '              - 1.0.0 # {"$imagepolicy": "ns:app:tag"}\n'
        '              # - reg.example:5000/app:0.9 # {"$imagepolicy": "ns:app"}\n'
        "---\n"
        "kind: List\n"
        'items: [reg.example:5000/app:1.0.0, 1.0.0]   # {"$imagepolicy": "ns:app:tag"}\n'
        "...\n"
    )
    path = _write(tmp_path, "deep/dir/app.yaml", original)
    changes = apply_setters(tmp_path, {"ns:app": "reg.example:5000/app:1.2.0"})
    expected = (
        original.replace('"reg.example:5000/app:1.0.0"    #', '"reg.example:5000/app:1.2.0"    #')
        .replace("'reg.example:5000/app:1.0.0' #", "'reg.example:5000/app:1.2.0' #")
        .replace("image: reg.example:5000/app:1.0.0} #", "image: reg.example:5000/app:1.2.0} #")
        .replace("image: reg.example:5000/app:1.0.0 #{", "image: reg.example:5000/app:1.2.0 #{")
        .replace("- 1.0.0 # {", "- 1.2.0 # {")
        .replace("1.0.0, 1.0.0]", "1.0.0, 1.2.0]")
    )
    assert path.read_text() == expected
    assert [c.field for c in changes] == [
        "spec.template.spec.containers[0].image",
        "spec.template.spec.containers[1].image",
        "spec.template.spec.containers[2].image",
        "spec.template.spec.containers[3].image",
        "spec.template.spec.args[1]",
        "items[1]",
    ]
    assert all(c.file == "deep/dir/app.yaml" for c in changes)
    assert changes[0].object == ObjectRef("apps", "Deployment", None, "web")
    assert changes[-1].object is None


def test_crlf_bom_and_non_ascii_are_kept(tmp_path: Path) -> None:
    text = (
        "\ufeffapiVersion: v1\r\nkind: Pod\r\nmetadata:\r\n  name: p # ünïcödé 日本\r\n"
        'spec:\r\n  containers:\r\n  - image: r/app:1 # {"$imagepolicy": "ns:app"}\r\n'
        '    name: "é"\r\n'
    )
    path = _write(tmp_path, "pod.yml", text.encode("utf-8"))
    apply_setters(tmp_path, {"ns:app": "r/app:2"})
    assert path.read_bytes() == text.replace("r/app:1", "r/app:2").encode("utf-8")


def test_plain_values_are_quoted_only_when_needed(tmp_path: Path) -> None:
    text = (
        'a: v1 # {"$imagepolicy": "ns:num:tag"}\n'
        'b: v1 # {"$imagepolicy": "ns:yes:tag"}\n'
        'c: \'v1\' # {"$imagepolicy": "ns:quote:tag"}\n'
        'd: v1 # {"$imagepolicy": "ns:plain:tag"}\n'
    )
    path = _write(tmp_path, "k.yaml", text)
    images = {"ns:num": "r/a:1.10", "ns:yes": "r/a:on", "ns:quote": "r/a:it's", "ns:plain": "r/a:v2.0"}
    apply_setters(tmp_path, images)
    assert path.read_text() == (
        'a: "1.10" # {"$imagepolicy": "ns:num:tag"}\n'
        'b: "on" # {"$imagepolicy": "ns:yes:tag"}\n'
        "c: 'it''s' # {\"$imagepolicy\": \"ns:quote:tag\"}\n"
        'd: v2.0 # {"$imagepolicy": "ns:plain:tag"}\n'
    )
    assert yaml.safe_load(path.read_text()) == {"a": "1.10", "b": "on", "c": "it's", "d": "v2.0"}


def test_digest_and_name_setters(tmp_path: Path) -> None:
    text = (
        'image: r:5000/app:1@sha256:aaa # {"$imagepolicy": "ns:app"}\n'
        'digest: sha256:aaa # {"$imagepolicy": "ns:app:digest"}\n'
        'name: r:5000/old # {"$imagepolicy": "ns:app:name"}\n'
    )
    path = _write(tmp_path, "x.yaml", text)
    apply_setters(tmp_path, {"ns:app": "r:5000/app:2@sha256:bbb"})
    assert path.read_text() == (
        'image: r:5000/app:2@sha256:bbb # {"$imagepolicy": "ns:app"}\n'
        'digest: sha256:bbb # {"$imagepolicy": "ns:app:digest"}\n'
        'name: r:5000/app # {"$imagepolicy": "ns:app:name"}\n'
    )


def test_no_change_when_values_already_set(tmp_path: Path) -> None:
    path = _write(tmp_path, "m.yaml", MARKED.replace("image:v1.0.0", "index.repo.fake/updated:v1.0.1"))
    mtime = _age(path)
    assert apply_setters(tmp_path, IMAGES) == []
    assert path.stat().st_mtime_ns == mtime


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    path = _write(tmp_path, "m.yaml", MARKED)
    changes = apply_setters(tmp_path, IMAGES, dry_run=True)
    assert len(changes) == 1
    assert path.read_text() == MARKED


def test_git_dir_and_symlinks_are_skipped(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    outside_file = _write(outside, "secret.yaml", MARKED)
    git_file = _write(root, ".git/hooks/x.yaml", MARKED)
    _write(root, "real.yaml", MARKED)
    (root / "linked-dir").symlink_to(outside, target_is_directory=True)
    (root / "linked.yaml").symlink_to(outside_file)
    changes = apply_setters(root, IMAGES)
    assert [c.file for c in changes] == ["real.yaml"]
    assert outside_file.read_text() == MARKED
    assert git_file.read_text() == MARKED
    assert (root / "linked.yaml").is_symlink()


def test_file_mode_is_kept(tmp_path: Path) -> None:
    path = _write(tmp_path, "m.yaml", MARKED)
    path.chmod(0o640)
    apply_setters(tmp_path, IMAGES)
    assert path.stat().st_mode & 0o777 == 0o640


# -- errors ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('image: a:1 # {"$imagepolicy": "ns:app"', "not valid JSON"),
        ('image: a:1 # {"$imagepolicy": 42}', "string"),
        ('image: a:1 # {"$imagepolicy": "just-a-name"}', "namespace:name"),
        ('image: a:1 # {"$imagepolicy": "ns:app:version"}', "namespace:name"),
        ('image: a:1 # {"$imagepolicy": "ns::tag"}', "namespace:name"),
        ('containers: # {"$imagepolicy": "ns:app"}\n  - a', "does not follow a scalar"),
        ('image: # {"$imagepolicy": "ns:app"}', "does not follow a scalar"),
    ],
)
def test_malformed_markers(tmp_path: Path, line: str, reason: str) -> None:
    _write(tmp_path, "bad.yaml", "kind: X\n" + line + "\n")
    with pytest.raises(MalformedMarkerError, match=reason) as exc:
        apply_setters(tmp_path, {"ns:app": "r/app:2"})
    assert exc.value.file == "bad.yaml"
    assert exc.value.line == 2
    assert isinstance(exc.value, ValidationError)


def test_block_scalar_marker(tmp_path: Path) -> None:
    _write(tmp_path, "b.yaml", 'image: | # {"$imagepolicy": "ns:app"}\n  r/app:1\n')
    with pytest.raises(MalformedMarkerError, match="block scalar"):
        apply_setters(tmp_path, {"ns:app": "r/app:2"})


def test_unparsable_yaml_with_a_marker(tmp_path: Path) -> None:
    good = _write(tmp_path, "a.yaml", MARKED)
    _write(tmp_path, "z.yaml", 'a: [1, 2\nimage: x # {"$imagepolicy": "automation-ns:policy"}\n')
    with pytest.raises(InvalidYAMLError) as exc:
        apply_setters(tmp_path, IMAGES)
    assert exc.value.file == "z.yaml"
    assert "z.yaml" in str(exc.value)
    assert good.read_text() == MARKED


def test_unparsable_yaml_without_markers_is_not_read(tmp_path: Path) -> None:
    # Flux screens files for the marker token first; a broken file without markers is none of our business.
    _write(tmp_path, "broken.yaml", "a: [1, 2\n")
    _write(tmp_path, "m.yaml", MARKED)
    assert len(apply_setters(tmp_path, IMAGES)) == 1


def test_not_utf8(tmp_path: Path) -> None:
    _write(tmp_path, "latin.yaml", 'name: caf\xe9 # {"$imagepolicy": "ns:app"}\n'.encode("latin-1"))
    with pytest.raises(InvalidYAMLError, match="UTF-8"):
        apply_setters(tmp_path, {"ns:app": "r/app:2"})


def test_reference_without_the_wanted_part(tmp_path: Path) -> None:
    _write(tmp_path, "d.yaml", 'digest: sha256:aaa # {"$imagepolicy": "ns:app:digest"}\n')
    with pytest.raises(SetterError, match="no digest"):
        apply_setters(tmp_path, {"ns:app": "r/app:2"})


def test_root_must_be_a_directory(tmp_path: Path) -> None:
    from reconcilekit import ConfigurationError

    with pytest.raises(ConfigurationError):
        apply_setters(tmp_path / "missing", IMAGES)


@pytest.mark.parametrize(
    ("ref", "name", "tag", "digest"),
    [
        ("app", "app", None, None),
        ("app:1", "app", "1", None),
        ("localhost:5000/app", "localhost:5000/app", None, None),
        ("localhost:5000/app:v2", "localhost:5000/app", "v2", None),
        ("r/app@sha256:abc", "r/app", None, "sha256:abc"),
        ("r:1/app:2@sha256:abc", "r:1/app", "2", "sha256:abc"),
    ],
)
def test_parse_image_reference(ref: str, name: str, tag: str | None, digest: str | None) -> None:
    parsed = parse_image_reference(ref)
    assert (parsed.name, parsed.tag, parsed.digest) == (name, tag, digest)


def test_anchors_tags_and_hashes_inside_values(tmp_path: Path) -> None:
    text = (
        'a: &img r/app:1 # {"$imagepolicy": "ns:app"}\n'
        "b: *img\n"
        'c: !!str r/app:1 # {"$imagepolicy": "ns:app"}\n'
        'd: "x#y:1" # {"$imagepolicy": "ns:app"}\n'
        'e: !custom r/app:1 # {"$imagepolicy": "ns:app"}\n'
        'f: &t !!str "r/app:1" # {"$imagepolicy": "ns:app"}\n'
    )
    path = _write(tmp_path, "x.yaml", text)
    changes = apply_setters(tmp_path, {"ns:app": "r/app:2"})
    assert path.read_text() == (
        'a: &img r/app:2 # {"$imagepolicy": "ns:app"}\n'
        "b: *img\n"
        'c: !!str r/app:2 # {"$imagepolicy": "ns:app"}\n'
        'd: "r/app:2" # {"$imagepolicy": "ns:app"}\n'
        'e: !custom r/app:2 # {"$imagepolicy": "ns:app"}\n'
        'f: &t !!str "r/app:2" # {"$imagepolicy": "ns:app"}\n'
    )
    assert [c.field for c in changes] == ["a", "c", "d", "e", "f"]
    # Running again changes nothing (explicitly tagged values included).
    assert apply_setters(tmp_path, {"ns:app": "r/app:2"}) == []


# -- property: only the marked scalars' bytes change, and the documents mean the same otherwise ----------

_IMAGE = st.builds(
    lambda host, name, tag: f"{host}/{name}:{tag}",
    st.sampled_from(["r.example", "127.0.0.1:5000", "ghcr.io/org"]),
    st.sampled_from(["app", "web", "team/api"]),
    st.sampled_from(["1.0.0", "v2", "1.10", "on", "2024-01-01", "latest"]),
)
_SCALAR = st.one_of(_IMAGE, st.sampled_from(["x", "1", "true", "a b", "c: d", "#e", ""]), st.integers(0, 9))
_KEY = st.sampled_from(["image", "name", "tag", "spec", "items", "a-b", "k"])
_TREE = st.recursive(
    _SCALAR,
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=4), st.dictionaries(_KEY, children, min_size=1, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    tree=st.dictionaries(_KEY, _TREE, min_size=1, max_size=4),
    flow=st.sampled_from([False, None]),
    style=st.sampled_from([None, '"', "'"]),
    newline=st.sampled_from(["\n", "\r\n"]),
    new_tag=st.sampled_from(["1.2.3", "2.0", "yes", "it's", 'q"uote']),
)
def test_property_only_marked_bytes_change(
    tmp_path: Path, tree: dict[str, object], flow: bool | None, style: str | None, newline: str, new_tag: str
) -> None:
    text = yaml.safe_dump(tree, default_flow_style=flow, default_style=style, sort_keys=False, width=10_000)
    lines = text.splitlines()
    # Mark every line that ends with an image-like scalar (the last scalar on its line).
    marked = [
        line + ' # {"$imagepolicy": "ns:app"}'
        if re.search(r"(:\d+)?/[a-z/]+:[\w.-]+['\"]?[\]}]*$", line)
        else line
        for line in lines
    ]
    original = newline.join(marked) + newline
    work = tmp_path / f"case-{uuid.uuid4().hex}"
    path = _write(work, "doc.yaml", original)
    new_image = f"r.example/app:{new_tag}"
    changes = apply_setters(work, {"ns:app": new_image})

    result = path.read_bytes().decode()
    before = yaml.safe_load(original)
    after = yaml.safe_load(result)
    # Same meaning except at the changed fields, which now hold the new image.
    expected = before
    for change in changes:
        assert change.new == new_image
        expected = _set_path(expected, change.field, new_image)
    assert after == expected
    # Same bytes except inside each changed line's value; line structure and comments kept.
    old_lines, new_lines = original.split(newline), result.split(newline)
    assert len(old_lines) == len(new_lines)
    changed_lines = {c.line - 1 for c in changes}
    for i, (old, new) in enumerate(zip(old_lines, new_lines, strict=True)):
        if i not in changed_lines:
            assert old == new
        else:
            assert old.endswith(' # {"$imagepolicy": "ns:app"}')
            assert new.endswith(' # {"$imagepolicy": "ns:app"}')
    if not changes:
        assert result == original


def _set_path(doc: object, field: str, value: str) -> object:
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", field)
    doc = copy.deepcopy(doc)
    cur: Any = doc
    for part in parts[:-1]:
        cur = cur[int(part[1:-1])] if part.startswith("[") else cur[part]
    last = parts[-1]
    if last.startswith("["):
        cur[int(last[1:-1])] = value
    else:
        cur[last] = value
    return doc
