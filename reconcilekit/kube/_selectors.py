"""Label and field selectors in the API server's syntax, parsed and matched client-side.

FakeCluster filters with these; they follow k8s.io/apimachinery/pkg/labels (equality and set-based
requirements, comma meaning AND). Numeric ``gt``/``lt`` requirements are not supported.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["SelectorSyntaxError", "match_fields", "parse_field_selector", "parse_label_selector"]

Matcher = Callable[[Mapping[str, str]], bool]

_KEY = r"(?:[a-z0-9A-Z.-]+/)?[a-zA-Z0-9](?:[-a-zA-Z0-9_.]*[a-zA-Z0-9])?"
_VALUE = r"(?:[a-zA-Z0-9](?:[-a-zA-Z0-9_.]*[a-zA-Z0-9])?)?"
_EXISTS = re.compile(rf"^\s*(!?)\s*({_KEY})\s*$")
_EQ = re.compile(rf"^\s*({_KEY})\s*(==|=|!=)\s*({_VALUE})\s*$")
_SET = re.compile(rf"^\s*({_KEY})\s+(in|notin)\s*\(([^()]*)\)\s*$")


class SelectorSyntaxError(ValueError):
    """A selector string does not parse; ``requirement`` is the offending part."""

    def __init__(self, selector: str, requirement: str) -> None:
        super().__init__(f"unable to parse requirement {requirement!r} in selector {selector!r}")
        self.selector = selector
        self.requirement = requirement


def _split_requirements(selector: str) -> list[str]:
    # Commas separate requirements except inside the parentheses of an in/notin value set.
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p for p in parts if p.strip()] if selector.strip() else []


def _requirement(selector: str, text: str) -> Matcher:
    if m := _SET.match(text):
        key, op, raw = m.group(1), m.group(2), m.group(3)
        values = {v.strip() for v in raw.split(",")}
        if not all(re.fullmatch(_VALUE, v) for v in values):
            raise SelectorSyntaxError(selector, text)
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if m := _EQ.match(text):
        key, op, value = m.group(1), m.group(2), m.group(3)
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if m := _EXISTS.match(text):
        negate, key = m.group(1) == "!", m.group(2)
        if negate:
            return lambda labels: key not in labels
        return lambda labels: key in labels
    raise SelectorSyntaxError(selector, text.strip())


def parse_label_selector(selector: str | None) -> Matcher:
    """A predicate over a label mapping; ``None`` or an empty selector matches everything."""
    if not selector:
        return lambda labels: True
    reqs = [_requirement(selector, part) for part in _split_requirements(selector)]
    return lambda labels: all(r(labels) for r in reqs)


_FIELD = re.compile(r"^\s*([a-zA-Z.]+)\s*(==|=|!=)\s*([^,]*?)\s*$")
_SUPPORTED_FIELDS = ("metadata.name", "metadata.namespace")


def parse_field_selector(selector: str | None) -> list[tuple[str, bool, str]]:
    """``[(field, equal, value)]`` for a field selector over ``metadata.name``/``metadata.namespace``."""
    if not selector:
        return []
    out: list[tuple[str, bool, str]] = []
    for part in selector.split(","):
        m = _FIELD.match(part)
        if not m or m.group(1) not in _SUPPORTED_FIELDS:
            raise SelectorSyntaxError(selector, part.strip())
        out.append((m.group(1), m.group(2) != "!=", m.group(3)))
    return out


def match_fields(requirements: list[tuple[str, bool, str]], obj: Mapping[str, Any]) -> bool:
    """Whether ``obj`` meets every parsed field requirement."""
    md = obj.get("metadata") or {}
    for field, equal, value in requirements:
        actual = str(md.get(field.split(".", 1)[1]) or "")
        if (actual == value) != equal:
            return False
    return True
