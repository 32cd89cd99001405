"""MemorySource: equal content, equal artifact; content is real files."""

from __future__ import annotations

import pytest

from reconcilekit.testing import MemorySource

pytestmark = pytest.mark.anyio


async def test_equal_content_gives_equal_revision_and_digest() -> None:
    a = MemorySource({"x.yaml": "a: 1\n", "d/y.yaml": b"b: 2\n"})
    b = MemorySource({"d/y.yaml": "b: 2\n", "x.yaml": "a: 1\n"})
    fa, fb = await a.fetch(), await b.fetch()
    assert (fa.revision, fa.digest) == (fb.revision, fb.digest)
    assert (fa.path / "d" / "y.yaml").read_text() == "b: 2\n"
    changed = a.set_files({"x.yaml": "a: 2\n"})
    assert changed.digest != fa.digest
    assert (fa.path / "x.yaml").read_text() == "a: 1\n"  # the old snapshot is left as it was
    a.close()
    assert not fa.path.exists()
    with pytest.raises(ValueError, match="leaves the snapshot"):
        MemorySource({"../escape.yaml": "x"})
