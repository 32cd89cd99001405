"""Flux post-build variable substitution: ``${var}``, ``${var:=default}``, ``$${escaped}``."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ._errors import KustomizationError

__all__ = ["substitute_text"]

_VAR = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_NAME = re.compile(r"^[_a-zA-Z][_a-zA-Z0-9]*$")


def substitute_text(text: str, variables: Mapping[str, str], *, strict: bool, where: str) -> str:
    """Replace variables in ``text``; ``strict`` makes an unset variable without default an error."""

    def repl(m: re.Match[str]) -> str:
        if m.group(0) == "$${":
            return "${"
        expr = m.group(1)
        name, sep, default = expr.partition(":=")
        if not sep:
            name, sep, default = expr.partition(":-")
        name = name.strip()
        if not _NAME.match(name):
            raise KustomizationError(where, f"variable name {name!r} in '${{{expr}}}' is not valid")
        if name in variables:
            return str(variables[name])
        if sep:
            return default
        if strict:
            raise KustomizationError(where, f"variable not set (strict mode): {name}")
        return ""

    return _VAR.sub(repl, text)
