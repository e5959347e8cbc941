"""Reading a site spec from YAML or JSON into a validated ``Site``; every problem reported at once."""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from .checks import check_and_resolve_files, cross_field_problems
from .errors import Problem, SiteSpecError
from .models import Site

FILE = "<file>"


# --------------------------------------------------------------------------- reading text


def read_document(path: str | Path) -> dict:
    """Parse a YAML or JSON file into a mapping; syntax errors name line and column."""
    p = Path(path)
    src = str(path)
    if not p.exists():
        raise SiteSpecError(src, [Problem(FILE, src, "expected the path of a YAML or JSON site spec (see `bess-size example`)",
                                          reason="file not found")])
    if p.is_dir():
        raise SiteSpecError(src, [Problem(FILE, src, "expected a YAML or JSON site spec file, not a folder", reason="is a directory")])
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SiteSpecError(src, [Problem(FILE, src, "expected a UTF-8 text file (YAML or JSON)",
                                          reason=f"not text: byte {exc.start} cannot be decoded as UTF-8")]) from None
    except OSError as exc:
        raise SiteSpecError(src, [Problem(FILE, src, "expected a readable YAML or JSON site spec file",
                                          reason=f"could not be read ({exc.strerror or exc})")]) from None
    return parse_document(text, src, json_syntax=p.suffix.lower() == ".json")


class _SpecLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and non-text keys instead of silently keeping one."""


class _KeyProblem(yaml.constructor.ConstructorError):
    """A key YAML can parse but a spec cannot use (duplicate, not a name): not a syntax error."""


class _Section(dict):
    """A parsed mapping that remembers the line of each key, so problems can point into the file."""

    key_lines: dict[str, int]


def _construct_mapping(loader: _SpecLoader, node: yaml.MappingNode) -> dict:
    loader.flatten_mapping(node)  # resolve `<<: *anchor` merges first
    out = _Section()
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            # YAML 1.1 reads bare on/off/yes/no as booleans, and numbers as numbers
            raise _KeyProblem(None, None, f"the key {json.dumps(key, default=str)} is not a name (YAML reads a bare "
                                          "on/off/yes/no/number as a value); quote it or use a key such as firm_import_mw",
                              key_node.start_mark)
        if key in out:
            raise _KeyProblem(None, None, f"the key '{key}' appears twice in this section (first on line "
                                          f"{out.key_lines[key]}); YAML would silently keep only the last",
                              key_node.start_mark)
        out.key_lines[key] = key_node.start_mark.line + 1
        out[key] = loader.construct_object(value_node, deep=True)
    return out


_SpecLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _json_pairs(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key '{key}' appears twice in the same object")
        out[key] = value
    return out


def parse_document(text: str, source: str = "<spec>", json_syntax: bool = False) -> dict:
    """Parse YAML (or JSON when ``json_syntax``) text into a mapping of sections."""
    if not text.strip():
        raise SiteSpecError(source, [Problem(FILE, "<empty>", "expected a site spec (see `bess-size example`)", reason="the file is empty")])
    try:
        data = json.loads(text, object_pairs_hook=_json_pairs) if json_syntax else yaml.load(text, Loader=_SpecLoader)
    except json.JSONDecodeError as exc:
        raise SiteSpecError(source, [Problem(f"<line {exc.lineno}, column {exc.colno}>", "<syntax error>",
                                             _caret(text, exc.lineno - 1, exc.colno - 1) + "\nexpected valid JSON",
                                             reason=f"JSON syntax error: {exc.msg}")]) from None
    except ValueError as exc:  # duplicate JSON key from _json_pairs
        raise SiteSpecError(source, [Problem(FILE, "<json>", "expected each key once per object", reason=str(exc))]) from None
    except yaml.YAMLError as exc:
        raise SiteSpecError(source, [_yaml_problem(exc, text)]) from None
    except RecursionError:
        raise SiteSpecError(source, [Problem(FILE, "<document>", "expected a site spec a few levels deep",
                                             reason="nested too deeply to read")]) from None
    if data is None:  # only comments
        raise SiteSpecError(source, [Problem(FILE, "<empty>", "expected a site spec (see `bess-size example`)",
                                             reason="the file holds no settings, only comments or blank lines")])
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a single {type(data).__name__} value"
        raise SiteSpecError(source, [Problem("<document>", data, "expected a mapping of sections at the top level "
                                             "(name:, load:, grid:, generation:, bess:, ...)", reason=f"the document is {kind}")])
    return data


def _yaml_problem(exc: yaml.YAMLError, text: str) -> Problem:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is None:
        return Problem(FILE, "<yaml>", "expected valid YAML", reason=f"YAML syntax error: {problem}")
    where = f"<line {mark.line + 1}, column {mark.column + 1}>"
    snippet = _caret(text, mark.line, mark.column)
    if isinstance(exc, _KeyProblem):
        return Problem(where, "<key>", f"{snippet}\nexpected each key once per section, written as a name", reason=problem)
    reason = f"YAML syntax error: {problem}"
    context, ctx_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context:
        reason += f" ({context}" + (f" on line {ctx_mark.line + 1}" if ctx_mark is not None else "") + ")"
    hint = "expected YAML: `key: value` pairs, nested sections indented by two spaces, lists as `- item` or [a, b]"
    return Problem(where, "<syntax error>", f"{snippet}\n{hint}", reason=reason)


def _caret(text: str, line0: int, col0: int) -> str:
    """The offending line and a caret under the column, as YAML's own error marks show it."""
    lines = text.splitlines()
    if not 0 <= line0 < len(lines):
        return ""
    src = lines[line0].rstrip()[:100]
    return f"| {src}\n| {' ' * min(col0, len(src))}^"


# --------------------------------------------------------------------------- validating


def validate_site(data: dict, source: str = "<spec>", base_dir: str | Path = ".") -> Site:
    """Validate a parsed mapping; raise ``SiteSpecError`` with every problem found."""
    if not isinstance(data, dict):
        raise SiteSpecError(source, [Problem("<document>", data, "expected a mapping of sections (name, load, grid, ...)")])
    try:
        site = Site.model_validate(data)
    except ValidationError as exc:
        problems = _problems_from_pydantic(exc.errors()) + _partial_problems(data, exc, Path(base_dir))
        raise SiteSpecError(source, [_with_line(p, data) for p in problems]) from None
    problems, site = check_and_resolve_files(site, Path(base_dir))
    problems += cross_field_problems(site)
    if problems:
        raise SiteSpecError(source, [_with_line(p, data) for p in problems])
    return site


_PATH_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _with_line(problem: Problem, data: dict) -> Problem:
    """Attach the file line of ``problem.path``, or mark it a default when its key is not in the file.

    A rule that fails on a default must not blame the line of the section around it: the user
    never wrote that value.
    """
    if problem.line is not None or problem.default:
        return problem
    line, node = None, data
    for name, index in _PATH_TOKEN.findall(problem.path):
        if index:
            if not isinstance(node, list) or int(index) >= len(node):
                break
            node = node[int(index)]
        else:
            if not isinstance(node, dict):
                break
            if name not in node:
                if problem.value != "<missing>" and not problem.path.startswith(("<", "-")):
                    return dataclasses.replace(problem, line=None, default=True)
                break
            line = getattr(node, "key_lines", {}).get(name, line)
            node = node[name]
    return dataclasses.replace(problem, line=line) if line else problem


def locate(problem: Problem, data: dict) -> Problem:
    """``problem`` with its line in the parsed file ``data``, or marked a default (see ``_with_line``)."""
    return _with_line(problem, data)


def defaulted_values(site: BaseModel, data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Every value of ``site`` whose key is not in ``data`` (the parsed file): (dotted path, value).

    A section left out lists each of its values; a list left out (e.g. ``load.workloads``) lists
    each value of each default entry.
    """
    out: list[tuple[str, Any]] = []
    for name in type(site).model_fields:
        path = prefix + name
        value = getattr(site, name)
        given = isinstance(data, dict) and name in data
        sub = data[name] if given else None
        if isinstance(value, BaseModel):
            out += defaulted_values(value, sub if given else None, path + ".")
        elif isinstance(value, list) and value and all(isinstance(v, BaseModel) for v in value):
            for i, v in enumerate(value):
                entry = sub[i] if given and isinstance(sub, list) and i < len(sub) else None
                out += defaulted_values(v, entry, f"{path}[{i}].")
        elif not given:
            out.append((path, site.__pydantic_serializer__.to_python(site, mode="json", include={name})[name]))
    return out


def _partial_problems(data: dict, exc: ValidationError, base_dir: Path) -> list[Problem]:
    """The file and cross-field problems of the sections that did validate, so one run reports everything.

    Invalid sections are left at their defaults and every rule that reads one of them is skipped.
    """
    bad = {err["loc"][0] for err in exc.errors() if err["loc"]}
    # a bad or missing required section (load, grid) stands in with its defaults; no rule reads it
    stand_in = {k: {} for k in bad if k in Site.model_fields and Site.model_fields[k].is_required()}
    try:
        site = Site.model_validate({**{k: v for k, v in data.items() if k not in bad}, **stand_in})
    except ValidationError:
        return []
    problems, site = check_and_resolve_files(site, base_dir)
    return problems + cross_field_problems(site, valid_sections=set(Site.model_fields) - bad)


def recheck_site(site: Site) -> Site:
    """The cross-field rules again, on a Site built or changed in Python (an assignment checks only its
    own field): ``SiteSpecError`` if, e.g., soc_min_fraction was set above soc_max_fraction."""
    problems = cross_field_problems(site)
    if problems:
        raise SiteSpecError(f"site {site.name!r}", problems)
    return site


def load_site(path: str | Path) -> Site:
    """Load and validate a site spec file (YAML or JSON). Relative CSV paths are relative to the file."""
    data = read_document(path)
    return validate_site(data, str(path), Path(path).resolve().parent)


def dump_site(site: Site) -> dict:
    """A plain mapping that ``validate_site`` turns back into an equal ``Site``."""
    return site.model_dump(mode="json")


# --------------------------------------------------------------------------- dotted keys: --vary and with_values

_PART = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)$")


def split_key(key: str) -> list[str | int]:
    """'load.workloads[0].share' -> ['load', 'workloads', 0, 'share']."""
    out: list[str | int] = []
    for part in key.split("."):
        m = _PART.match(part)
        if not m:
            raise KeyError(f"'{part}' is not a key name (letters, digits, _ and optional [index])")
        out.append(m.group(1))
        out += [int(i) for i in re.findall(r"\[(\d+)\]", m.group(2))]
    return out


def set_dotted(data: dict, key: str, value):
    """Set ``key`` in a nested spec mapping, creating absent sections so the validator can judge them.

    A section left out (or null, like ``load.flexible``) becomes ``{key: value}`` and the site
    spec fills its defaults; a key name the spec does not know is reported by the spec's
    validator, with its did-you-mean. Raises KeyError for what the validator cannot see: an index
    past the end of a list, or a key below a plain value.
    """
    parts = split_key(key)
    node = data
    walked = ""
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        here = f"{walked}[{part}]" if isinstance(part, int) else (f"{walked}.{part}" if walked else part)
        if isinstance(part, int):
            if not isinstance(node, list):
                raise KeyError(f"{walked} is not a list, so [{part}] does not apply")
            if part >= len(node):
                raise KeyError(f"{walked} has {len(node)} entr{'y' if len(node) == 1 else 'ies'}, so [{part}] does not exist")
        elif not isinstance(node, dict):
            raise KeyError(f"{walked} is a value ({node!r}), not a section with a key '{part}'")
        if last:
            node[part] = value
            return data
        child = node[part] if isinstance(part, int) else node.get(part)
        if child is None and isinstance(part, str):
            child = node[part] = {}
        node = child
        walked = here
    return data


def apply_values(data: dict, values: typing.Mapping[str, Any], source: str, base_dir: str | Path = ".") -> Site:
    """Set dotted keys in a spec mapping (changed in place) and validate the result like a spec file.

    What ``--vary`` does for each sweep point and ``Site.with_values`` does in Python: every key
    and value problem is reported at once, as ``SiteSpecError``.
    """
    problems = []
    for key, value in values.items():
        try:
            set_dotted(data, key, value)
        except KeyError as exc:
            problems.append(Problem(key, value, exc.args[0], reason="no such key in the site spec"))
    if problems:
        raise SiteSpecError(source, problems)
    return validate_site(data, source, base_dir)


def _section_paths() -> dict[type, str]:
    """Each spec model class -> where it sits in a site ('grid.curtailment', 'load.workloads[]')."""
    out: dict[type, str] = {Site: ""}

    def visit(model: type[BaseModel], prefix: str):
        for name, f in model.model_fields.items():
            tp = _unwrap(f.annotation)
            is_list = typing.get_origin(tp) is list
            item = _unwrap(typing.get_args(tp)[0]) if is_list else tp
            members = typing.get_args(item) if typing.get_origin(item) in (Union, types.UnionType) else (item,)
            for m in (_unwrap(a) for a in members):
                if isinstance(m, type) and issubclass(m, BaseModel) and m not in out:
                    out[m] = f"{prefix}{name}{'[]' if is_list else ''}"
                    visit(m, out[m] + ".")

    visit(Site, "")
    return out


def assignment_error(model: type[BaseModel], name: str, exc: ValidationError) -> SiteSpecError:
    """``site.grid.ramp_limit_mw_per_s = -5`` refused in the site's terms (field, value, range, unit)."""
    prefix = _section_paths().get(model, model.__name__)
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"]) or (name,)
        field = model.model_fields.get(loc[0])
        path = (f"{prefix}." if prefix else "") + "".join(f"[{x}]" if isinstance(x, int) else ("." if i else "") + str(x)
                                                          for i, x in enumerate(loc))
        if err["type"] == "no_such_attribute":  # a misspelt key: the same did-you-mean as in a file
            problems.append(_unknown_key(path, name, err.get("input"), model))
        elif len(loc) == 1:
            problems.append(_problem_from_pydantic(err, path, model, field))
        else:
            problems.append(Problem(path, err.get("input"), expected_text(field), reason=err["msg"]))
    return SiteSpecError(f"assigning {prefix or model.__name__}.{name}", problems)


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


def _walk(loc: tuple) -> tuple[str, type | None, FieldInfo | None, bool]:
    """Follow a pydantic error location through the models.

    Returns the user-facing dotted path (union tags removed), the model class that holds the last
    key, that key's FieldInfo (also for an element of a ``[low, high]`` pair; None for unknown keys
    and list items), and whether the location ended inside a plain union member (e.g. ``float`` of
    ``float | str``), where pydantic reports one error per member.
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
            if origin is tuple:  # an end of a [low, high] pair: keep the pair's field for its range and unit
                tp = Any
                continue
            tp = typing.get_args(tp)[0] if origin is list else Any
            field = None
            continue
        if origin in (Union, types.UnionType):
            member = _union_member(tp, elem)
            if member is not None:  # a discriminator tag, not a key the user wrote
                tp = member
                continue
            return "".join(parts) or "<document>", parent, field, True
        parts.append(("." if parts else "") + str(elem))
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            parent = tp
            field = tp.model_fields.get(elem)
            tp = field.annotation if field is not None else Any
        else:
            parent, field = None, None
            tp = Any
    return "".join(parts) or "<document>", parent, field, False


def _kind_of(annotation) -> str | None:
    """How a value of this annotation is spelled in YAML, for 'expected ...' texts."""
    tp = _unwrap(annotation)
    if typing.get_origin(tp) is Literal:
        return "one of " + ", ".join(json.dumps(a) for a in typing.get_args(tp))
    if tp is bool:
        return "true or false"
    if tp is int:
        return "a whole number"
    if tp is float:
        return "a number"
    if tp is str:
        return "text"
    if typing.get_origin(tp) is list:
        item = _unwrap(typing.get_args(tp)[0])
        if typing.get_origin(item) in (Union, types.UnionType):
            tags = [t for m in typing.get_args(item) for t in typing.get_args(_unwrap(m).model_fields["kind"].annotation)]
            return "a list of entries `- kind: ...`, kind one of " + ", ".join(repr(t) for t in tags)
        if isinstance(item, type) and issubclass(item, BaseModel):
            return "a list of entries with the keys " + ", ".join(item.model_fields)
        return "a list"
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return "a section of keys: " + ", ".join(tp.model_fields)
    return None


def _extra(field: FieldInfo) -> dict:
    return field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}


def expected_text(field: FieldInfo | None) -> str:
    """'expected a number > 0 and <= 20000 [MW] (IT nameplate)': what a field accepts, with range and unit."""
    if field is None:
        return ""
    extra = _extra(field)
    unit = extra.get("unit")
    rng = extra.get("range")
    bounds = []
    for m in field.metadata:
        for attr, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            v = getattr(m, attr, None)
            if v is not None:
                bounds.append(f"{sym} {v:g}" if isinstance(v, (int, float)) else f"{sym} {v}")
    desc = (field.description or "").rsplit(" [", 1)[0]
    if rng:
        desc = desc.split("; a number or [low, high]")[0]
        text = f"expected a number or [low, high] with both ends within [{rng[0]:g}, {rng[1]:g}]"
    else:
        members = [a for a in typing.get_args(field.annotation) if a is not type(None)]
        bare = _unwrap(field.annotation)
        if typing.get_origin(bare) in (Union, types.UnionType):  # float | str: a figure or a CSV of figures over time
            kinds = [_kind_of(a) for a in typing.get_args(bare)]
            kind = " or ".join("the path of a CSV file" if k == "text" else k for k in kinds if k)
        else:
            kind = _kind_of(bare) or "a value"
        text = "expected " + kind
        if len(members) < len(typing.get_args(field.annotation)):  # Optional: null is allowed
            text += " or null"
        if bounds:
            text += " " + " and ".join(bounds)
    if unit and unit != "-":
        text += f" [{unit}]"
    return f"{text} ({desc})" if desc else text


def _fields_by_name() -> dict[str, list[str]]:
    """Every key the spec knows, with the dotted section paths where it is allowed."""
    out: dict[str, list[str]] = {}

    def visit(model: type[BaseModel], prefix: str, depth: int = 0):
        for name, f in model.model_fields.items():
            out.setdefault(name, []).append(f"{prefix}{name}")
            tp = _unwrap(f.annotation)
            members = typing.get_args(tp) if typing.get_origin(tp) is list else (tp,)
            for m in members:
                m = _unwrap(m)
                subs = [_unwrap(a) for a in typing.get_args(m)] if typing.get_origin(m) in (Union, types.UnionType) else [m]
                for sub in subs:
                    if isinstance(sub, type) and issubclass(sub, BaseModel) and depth < 4:
                        visit(sub, f"{prefix}{name}{'[]' if typing.get_origin(tp) is list else ''}.", depth + 1)

    visit(Site, "")
    return out


def _unknown_key(path: str, key: str, value, parent: type | None) -> Problem:
    allowed = list(parent.model_fields) if parent is not None else []
    elsewhere = [p for p in _fields_by_name().get(key, []) if p != path]
    guess = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if guess:
        reason = f"unknown key; did you mean '{guess[0]}'?"
    elif elsewhere:
        reason = f"unknown key in this section; '{key}' belongs under " + " or ".join(elsewhere)
    else:
        reason = "unknown key"
    return Problem(path, value, f"allowed here: {', '.join(allowed)}" if allowed else "", reason=reason)


def _problems_from_pydantic(errors: list[dict]) -> list[Problem]:
    out: list[Problem] = []
    union_seen: set[str] = set()
    for err in errors:
        path, parent, field, in_union = _walk(tuple(err["loc"]))
        if in_union:  # pydantic reports each member of `float | str`; the user gets one message
            if path in union_seen:
                continue
            union_seen.add(path)
            out.append(Problem(path, err.get("input"), expected_text(field), reason="not a number and not a file path"))
            continue
        out.append(_problem_from_pydantic(err, path, parent, field))
    return out


def _problem_from_pydantic(err: dict, path: str, parent, field) -> Problem:
    value = err.get("input")
    etype = err["type"]
    if etype == "extra_forbidden":
        return _unknown_key(path, str(err["loc"][-1]), value, parent)
    if etype == "missing":
        section = field is not None and isinstance(_unwrap(field.annotation), type) and issubclass(_unwrap(field.annotation), BaseModel)
        return Problem(path, "<missing>", expected_text(field),
                       reason=f"the {path} section is required: no default site is assumed" if section else "required")
    if etype == "union_tag_invalid":
        ctx = err.get("ctx", {})
        return Problem(path + ".kind", ctx.get("tag"), f"expected one of {ctx.get('expected_tags')}", reason="unknown kind")
    if etype == "union_tag_not_found":
        kinds = _kinds_at(path)
        return Problem(path + ".kind", "<missing>", f"expected one of {kinds}" if kinds else "", reason="each entry needs a kind")
    if etype in ("model_type", "model_attributes_type", "dict_type"):
        what = _kind_of(field.annotation) if field is not None else None
        return Problem(path, value, f"expected {what}" if what else "expected a section of keys", reason="not a section (a mapping of keys)")
    msg = err["msg"]
    if etype == "too_short":
        n = err.get("ctx", {}).get("min_length", 1)
        msg = f"the list has {len(value) if isinstance(value, list) else 0} entries; at least {n} needed"
    return Problem(path, value, expected_text(field), reason=msg)


def _kinds_at(path: str) -> str:
    from .models import Generator, Workload

    union = Workload if path.startswith("load.workloads") else Generator if path.startswith("generation") else None
    if union is None:
        return ""
    tags = [t for m in typing.get_args(_unwrap(union)) for t in typing.get_args(_unwrap(m).model_fields["kind"].annotation)]
    return ", ".join(repr(t) for t in tags)
