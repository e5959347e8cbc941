"""Reading a site spec from YAML or JSON into a validated ``Site``; every problem reported at once."""

from __future__ import annotations

import difflib
import json
import types
import typing
from pathlib import Path
from typing import Any, Union

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from .checks import check_and_resolve_files, cross_field_problems
from .errors import Problem, SiteSpecError
from .models import Site


def read_document(path: str | Path) -> dict:
    """Parse a YAML or JSON file into a mapping; syntax errors name line and column."""
    p = Path(path)
    src = str(path)
    if not p.exists():
        raise SiteSpecError(src, [Problem("<file>", src, "file not found; expected a YAML or JSON site spec")])
    if p.is_dir():
        raise SiteSpecError(src, [Problem("<file>", src, "is a directory; expected a YAML or JSON site spec file")])
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SiteSpecError(src, [Problem("<file>", src, f"could not be read ({exc}); expected a UTF-8 text file")]) from None
    return parse_document(text, src, json_syntax=p.suffix.lower() == ".json")


def parse_document(text: str, source: str = "<spec>", json_syntax: bool = False) -> dict:
    if not text.strip():
        raise SiteSpecError(source, [Problem("<file>", "", "the file is empty; expected a site spec (see `bess-size example`)")])
    try:
        data = json.loads(text) if json_syntax else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise SiteSpecError(source, [Problem(f"<line {exc.lineno}, column {exc.colno}>", "", f"JSON syntax error: {exc.msg}")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"<line {mark.line + 1}, column {mark.column + 1}>" if mark else "<file>"
        what = getattr(exc, "problem", None) or str(exc)
        raise SiteSpecError(source, [Problem(where, "", f"YAML syntax error: {what}")]) from None
    if not isinstance(data, dict):
        raise SiteSpecError(source, [Problem("<document>", data, "expected a mapping of sections (name, load, grid, ...) at the top")])
    return data


def validate_site(data: dict, source: str = "<spec>", base_dir: str | Path = ".") -> Site:
    """Validate a parsed mapping; raise ``SiteSpecError`` with every problem found."""
    try:
        site = Site.model_validate(data)
    except ValidationError as exc:
        raise SiteSpecError(source, [_problem_from_pydantic(err, data) for err in exc.errors()]) from None
    problems, site = check_and_resolve_files(site, Path(base_dir))
    problems += cross_field_problems(site)
    if problems:
        raise SiteSpecError(source, problems)
    return site


def load_site(path: str | Path) -> Site:
    """Load and validate a site spec file (YAML or JSON). Relative CSV paths are relative to the file."""
    data = read_document(path)
    return validate_site(data, str(path), Path(path).resolve().parent)


def dump_site(site: Site) -> dict:
    """A plain mapping that ``validate_site`` turns back into an equal ``Site``."""
    return site.model_dump(mode="json")


# --------------------------------------------------------------------------- pydantic errors in the site's terms


def _unwrap(tp):
    """Strip Annotated and Optional; return the bare type."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) == 1:
                tp = args[0]
            else:
                return tp
        else:
            return tp


def _union_member(tp, tag: str):
    for arg in typing.get_args(tp):
        arg = _unwrap(arg)
        if isinstance(arg, type) and issubclass(arg, BaseModel) and "kind" in arg.model_fields:
            kinds = typing.get_args(arg.model_fields["kind"].annotation)
            if tag in kinds:
                return arg
    return None


def _walk(loc: tuple) -> tuple[str, type | None, FieldInfo | None]:
    """Follow a pydantic error location through the models.

    Returns the user-facing dotted path (union tags removed), the model class that holds the last
    key, and that key's FieldInfo (None for unknown keys or list items).
    """
    parts: list[str] = []
    tp: Any = Site
    parent: type | None = None
    field: FieldInfo | None = None
    for elem in loc:
        tp = _unwrap(tp)
        origin = typing.get_origin(tp)
        if isinstance(elem, int):
            parts.append(f"[{elem}]")
            tp = typing.get_args(tp)[0] if origin is list else Any
            field = None
            continue
        if origin in (Union, types.UnionType):
            member = _union_member(tp, elem)
            if member is not None:  # a discriminator tag, not a key the user wrote
                tp = member
                continue
            break  # a plain union member name such as "float"
        parts.append(("." if parts else "") + str(elem))
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            parent = tp
            field = tp.model_fields.get(elem)
            tp = field.annotation if field is not None else Any
        else:
            parent, field = None, None
            tp = Any
    return "".join(parts) or "<document>", parent, field


def expected_text(field: FieldInfo | None) -> str:
    """'a number in [0, 1] [fraction]'-style description of what a field accepts."""
    if field is None:
        return ""
    unit = (field.json_schema_extra or {}).get("unit") if isinstance(field.json_schema_extra, dict) else None
    bounds = []
    for m in field.metadata:
        for attr, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            v = getattr(m, attr, None)
            if v is not None:
                bounds.append(f"{sym} {v:g}" if isinstance(v, (int, float)) else f"{sym} {v}")
    rng = (field.json_schema_extra or {}).get("range") if isinstance(field.json_schema_extra, dict) else None
    desc = (field.description or "").rsplit(" [", 1)[0]
    text = "expected"
    if rng:
        text += f" a number or [low, high] within [{rng[0]:g}, {rng[1]:g}]"
    elif bounds:
        text += " a value " + " and ".join(bounds)
    else:
        text = ""
    if unit and text:
        text += f" [{unit}]"
    return f"{text} ({desc})" if text and desc else (text or desc)


def _problem_from_pydantic(err: dict, data: dict) -> Problem:
    loc = tuple(err["loc"])
    path, parent, field = _walk(loc)
    value = err.get("input")
    if err["type"] == "extra_forbidden":
        key = str(loc[-1])
        allowed = list(parent.model_fields) if parent is not None else []
        guess = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        hint = f"; did you mean '{guess[0]}'?" if guess else ""
        return Problem(path, value, f"unknown key{hint} Allowed here: {', '.join(allowed)}")
    if err["type"] == "missing":
        return Problem(path, "<missing>", ("required; " + expected_text(field)).rstrip("; "))
    if err["type"] == "union_tag_invalid":
        ctx = err.get("ctx", {})
        return Problem(path + ".kind", ctx.get("tag"), f"unknown kind; expected one of {ctx.get('expected_tags')}")
    if err["type"] == "union_tag_not_found":
        return Problem(path + ".kind", "<missing>", "each entry needs a kind; " + str(err.get("ctx", {}).get("discriminator", "")))
    msg = err["msg"]
    exp = expected_text(field)
    return Problem(path, value, f"{msg}; {exp}" if exp else msg)
