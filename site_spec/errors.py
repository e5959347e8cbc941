"""One error type for everything a user can get wrong, reported all at once."""

from __future__ import annotations

import json
from dataclasses import dataclass


def show_value(value: object, limit: int = 80) -> str:
    """The value as the user wrote it (YAML/JSON spelling: true, null, "text", [1, 2]), shortened.

    A whole float reads as the integer a file most likely held (the model keeps 190 as 190.0).
    """
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    try:
        shown = json.dumps(value, default=str)
    except (TypeError, ValueError):  # e.g. a float nan in a list; never fail while reporting a failure
        shown = str(value)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: where, what was given, what is expected.

    ``reason`` (optional) says what is wrong with the value; ``expected`` says what would be right,
    with range and unit. Either may span several lines.
    """

    path: str  # dotted YAML path, e.g. "grid.firm_import_mw" or "load.workloads[0].share"
    value: object
    expected: str
    reason: str = ""
    line: int | None = None  # line in the spec file, when known
    default: bool = False  # the value is a default: the key is not in the file

    def render(self) -> str:
        raw = isinstance(self.value, str) and self.value.startswith("<") and self.value.endswith(">")
        shown = self.value if raw else show_value(self.value)  # "<missing>" etc. are markers, not values
        where = "    (default, not in the file)" if self.default else f"    (line {self.line})" if self.line else ""
        lines = [f"  {self.path} = {shown}{where}"]
        for text in (self.reason, self.expected):
            lines += [f"      {line}" for line in text.splitlines() if line.strip()]
        return "\n".join(lines)


class SiteSpecError(ValueError):
    """Bad input. The CLI prints ``str(err)`` and exits with code 2."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = problems
        n = len(problems)
        head = f"{source}: {n} problem{'s' if n != 1 else ''}"
        super().__init__("\n".join([head] + [p.render() for p in problems]))
