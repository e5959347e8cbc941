"""Requirement checks over held-out scenarios: pass/fail, measured figure, limit, unit, and a
success rate with its two-sided 95% Wilson lower bound (DESIGN section 7, "Evidence").

A check passes when the lower bound reaches ``reliability.target_success_rate``: with every one
of n scenarios passing the bound is ``n / (n + z^2)``, so a 0.95 target needs at least 73
held-out scenarios (z = 1.96); fewer cannot prove it, and the check says so by failing.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

Z_95 = 1.959963984540054  # two-sided 95%: the 0.975 quantile of the standard normal


def wilson_lower_bound(successes: int, n: int, z: float = Z_95) -> float:
    """Lower end of the Wilson score interval for a binomial proportion.

    ``(p + z^2/2n - z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)`` with ``p = successes / n``;
    0 when ``n == 0`` (no evidence proves nothing).
    """
    if n <= 0:
        return 0.0
    if not 0 <= successes <= n:
        raise ValueError(f"successes must lie in [0, {n}], got {successes}")
    p = successes / n
    z2 = z * z
    centre = p + z2 / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, (centre - spread) / (1 + z2 / n))


@dataclass
class Check:
    """One requirement, judged over the held-out scenarios where it was exercised."""

    requirement: str
    description: str
    measured: float | None
    limit: float
    unit: str
    scenarios: int  # held-out scenarios that exercised the requirement
    successes: int
    target_success_rate: float
    evidence: str
    failed_scenarios: list[int] = field(default_factory=list)
    promise: float | None = None  # the optimizer's figure for the same quantity, where it made one
    detail: dict = field(default_factory=dict)

    @property
    def success_rate(self) -> float | None:
        return self.successes / self.scenarios if self.scenarios else None

    @property
    def success_rate_lower_95(self) -> float:
        return wilson_lower_bound(self.successes, self.scenarios)

    @property
    def passed(self) -> bool:
        return self.scenarios > 0 and self.success_rate_lower_95 >= self.target_success_rate - 1e-12

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("target_success_rate")
        d["passed"] = self.passed
        d["success_rate"] = self.success_rate
        d["success_rate_lower_95"] = round(self.success_rate_lower_95, 6)
        d["failed_scenarios"] = self.failed_scenarios[:20]
        keys = ["requirement", "passed", "measured", "limit", "unit", "success_rate", "success_rate_lower_95",
                "scenarios", "successes", "evidence", "description", "failed_scenarios", "promise", "detail"]
        return {k: d[k] for k in keys}
