"""Requirement checks over held-out scenarios: pass/fail, measured figure, limit, unit, and a
success rate with its two-sided 95% Wilson lower bound (DESIGN section 7, "Evidence").

A check passes when the lower bound reaches ``reliability.target_success_rate``: with every one
of n scenarios passing the bound is ``n / (n + z^2)``, so a 0.95 target needs at least 73
held-out scenarios (z = 1.96). Fewer cannot prove it: such a check is *inconclusive* unless the
upper bound shows the rate below the target (then it fails).

Every check states its comparator (``measured <= limit`` or ``measured >= limit``) and a figure
that can cross the limit; ``margin`` is how far it is from crossing (negative: crossed).
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


def wilson_upper_bound(successes: int, n: int, z: float = Z_95) -> float:
    """Upper end of the same interval (1 when ``n == 0``)."""
    if n <= 0:
        return 1.0
    return 1.0 - wilson_lower_bound(n - successes, n, z)


PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"


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
    comparator: str = "<="  # the requirement is ``measured <comparator> limit``
    state: str = "natural"  # natural | stress: the replay the check judges (DESIGN: stress state)

    @property
    def margin(self) -> float | None:
        """How far the measured figure is from crossing its limit, in its unit (negative: crossed)."""
        if self.measured is None:
            return None
        return self.limit - self.measured if self.comparator == "<=" else self.measured - self.limit

    @property
    def success_rate(self) -> float | None:
        return self.successes / self.scenarios if self.scenarios else None

    @property
    def success_rate_lower_95(self) -> float:
        return wilson_lower_bound(self.successes, self.scenarios)

    @property
    def status(self) -> str:
        """pass: the lower bound reaches the target; fail: it does not although the sample could
        have shown it, or the upper bound is below the target; inconclusive: too few scenarios."""
        target = self.target_success_rate - 1e-12
        if self.scenarios > 0 and self.success_rate_lower_95 >= target:
            return PASS
        if wilson_lower_bound(self.scenarios, self.scenarios) < target and \
                wilson_upper_bound(self.successes, self.scenarios) >= target:
            return INCONCLUSIVE
        return FAIL

    @property
    def passed(self) -> bool:
        return self.status == PASS

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("target_success_rate")
        d["passed"] = self.passed
        d["success_rate"] = self.success_rate
        d["success_rate_lower_95"] = round(self.success_rate_lower_95, 6)
        d["failed_scenarios"] = self.failed_scenarios[:20]
        d["status"] = self.status
        m = self.margin
        d["margin"] = None if m is None else round(m, 9)
        keys = ["requirement", "passed", "status", "measured", "comparator", "limit", "margin", "unit", "state",
                "success_rate", "success_rate_lower_95", "scenarios", "successes", "evidence", "description",
                "failed_scenarios", "promise", "detail"]
        return {k: d[k] for k in keys}
