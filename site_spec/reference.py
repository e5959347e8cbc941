"""The site spec reference (docs/site-spec.md), generated from the models so it cannot drift.

    python -m bess_size.site_spec.reference > docs/site-spec.md
"""

from __future__ import annotations

import json
import types
import typing
from typing import Literal, Union

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from .load import _unwrap
from .models import Site

HEADER = """# Site spec reference

Every key of a site spec (YAML or JSON), with its default, the range it must lie in and its unit.
Generated from `site_spec/models.py` by `python -m bess_size.site_spec.reference > docs/site-spec.md`
(a test fails when this page is stale). `bess-size schema` prints the same as JSON Schema;
`bess-size example` prints a complete, commented site. A range `[a, b]` in a spec means "drawn
uniformly between a and b"; a single number means exactly that value. Unknown keys are errors.
The `load` and `grid` sections are required; `bess-size check` lists every value taken from a
default. In Python, `site.with_values({"grid.nonfirm_import_mw": 50})` returns a new site checked
like a file (the loader of `sweep --vary`); assigning a field checks its range too.
"""


def _models_in(tp) -> list[type[BaseModel]]:
    """The spec sections a field holds: a model, a list of models, or a list of a tagged union."""
    tp = _unwrap(tp)
    if typing.get_origin(tp) is list:
        tp = _unwrap(typing.get_args(tp)[0])
    members = typing.get_args(tp) if typing.get_origin(tp) in (Union, types.UnionType) else (tp,)
    return [m for m in (_unwrap(a) for a in members) if isinstance(m, type) and issubclass(m, BaseModel)]


def _default(f: FieldInfo) -> str:
    if f.is_required():
        return "required"
    if f.default_factory is not None:
        value = f.default_factory()
        if isinstance(value, BaseModel):
            return "(section)"
        value = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value] if isinstance(value, list) else value
        if isinstance(value, list) and value and isinstance(value[0], dict):
            return f"{len(value)} entries: " + ", ".join(str(v.get("kind", "?")) for v in value)
    else:
        value = f.default
    if isinstance(value, tuple):
        value = list(value)
    return f"`{json.dumps(value)}`"


def _range(f: FieldInfo) -> str:
    extra = f.json_schema_extra if isinstance(f.json_schema_extra, dict) else {}
    if "range" in extra:
        lo, hi = extra["range"]
        return f"[{lo:g}, {hi:g}], or a number"
    tp = _unwrap(f.annotation)
    if typing.get_origin(tp) is Literal:
        return " \\| ".join(f"`{json.dumps(a)}`" for a in typing.get_args(tp))
    bounds = []
    for m in f.metadata:
        for attr, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            v = getattr(m, attr, None)
            if v is not None:
                bounds.append(f"{sym} {v:g}")
    if tp is bool:
        return "true \\| false"
    return ", ".join(bounds)


def _row(name: str, f: FieldInfo) -> str:
    extra = f.json_schema_extra if isinstance(f.json_schema_extra, dict) else {}
    unit = extra.get("unit", "")
    desc = (f.description or "").rsplit(" [", 1)[0].split("; a number or [low, high]")[0].replace("|", "\\|")
    if name == "kind" and not desc:
        desc = "Which kind of entry this is (selects the keys of this table)"
    return f"| `{name}` | {_default(f)} | {_range(f)} | {'' if unit == '-' else unit} | {desc} |"


def _entries_title(prefix: str, model: type[BaseModel]) -> str:
    kind = model.model_fields.get("kind")
    return f"{prefix}[] (kind: {' | '.join(typing.get_args(kind.annotation))})" if kind is not None else f"{prefix}[]"


def _table(model_fields: dict[str, FieldInfo]) -> list[str]:
    return ["| key | default | range | unit | meaning |", "|---|---|---|---|---|"] + [
        _row(name, f) for name, f in model_fields.items()]


def _section(title: str, model: type[BaseModel], out: list[str]) -> None:
    """One table per section, then its sub-sections (and one table per kind of list entry)."""
    out += ["", f"## {title}", ""]
    if model.__doc__ and model.__doc__.strip() and not model.__doc__.startswith(("A spec", "Base")):
        out += [model.__doc__.strip().splitlines()[0], ""]
    out += _table(model.model_fields)
    for name, f in model.model_fields.items():
        is_list = typing.get_origin(_unwrap(f.annotation)) is list
        for sub in _models_in(f.annotation):
            _section(_entries_title(f"{title}.{name}", sub) if is_list else f"{title}.{name}", sub, out)


def markdown() -> str:
    out = [HEADER.rstrip("\n"), "", "## (top level)", ""] + _table(Site.model_fields)
    for name, f in Site.model_fields.items():
        is_list = typing.get_origin(_unwrap(f.annotation)) is list
        for m in _models_in(f.annotation):
            _section(_entries_title(name, m) if is_list else name, m, out)
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
