"""docs/site-spec.md is generated from the models; it must not drift from them."""

from __future__ import annotations

from pathlib import Path

from bess_size.site_spec.models import Site
from bess_size.site_spec.reference import markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "site-spec.md"


def test_reference_page_is_current():
    assert DOC.read_text() == markdown(), "regenerate: python -m bess_size.site_spec.reference > docs/site-spec.md"


def test_reference_lists_every_key_with_unit():
    page = markdown()
    for section in ("load", "grid", "bess", "reliability", "economics", "scenarios"):
        for key in getattr(Site.model_fields[section].annotation, "model_fields"):
            assert f"| `{key}` |" in page, key
    assert "| `firm_import_mw` | `200` | >= 0 | MW |" in page
    assert "## generation[] (kind: pv)" in page
