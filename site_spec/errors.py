"""One error type for everything a user can get wrong, reported all at once."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: where, what was given, what is expected."""

    path: str  # dotted YAML path, e.g. "grid.firm_import_mw" or "load.workloads[0].share"
    value: object
    expected: str

    def render(self) -> str:
        shown = repr(self.value) if isinstance(self.value, str) else str(self.value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        return f"  {self.path} = {shown}\n      {self.expected}"


class SiteSpecError(ValueError):
    """Bad input. The CLI prints ``str(err)`` and exits with code 2."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = problems
        n = len(problems)
        head = f"{source}: {n} problem{'s' if n != 1 else ''}"
        super().__init__("\n".join([head] + [p.render() for p in problems]))
