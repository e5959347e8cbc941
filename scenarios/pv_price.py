"""PV and energy prices (issue 3 point 3).

PV: a CSV profile (``time_s,pv_mw``, repeated over the year by its own period) or a clear-sky
shape with cloud noise. The clear-sky shape is horizontal global irradiance from the Haurwitz
model, GHI = 1098 cos(z) exp(-0.057 / cos(z)) W/m2 (Haurwitz 1945, as in pvlib's
``clearsky.haurwitz``), with the solar zenith from latitude, Cooper's declination
23.45 sin(2 pi (284 + doy) / 365) deg and the hour angle at local solar time; AC output =
capacity x min(1, GHI / 1000). Clouds: output x (1 - cloud_variability x u), where
u = clip(c_day + s(t), 0, 1), c_day ~ U(0, 1) per day and s an AR(1) of std 0.25 with a
10-minute correlation time [E: a day-to-day clearness spread plus passing clouds].

Prices: a number (flat) or a CSV (``time_s,usd_per_mwh``) repeated over the horizon.
"""

from __future__ import annotations

import numpy as np

from .load_model import DAY_S, AR1Bins
from .render import periodic_bin_means
from .rng import child

CLOUD_TAU_S = 600.0
CLOUD_SIGMA = 0.25


def clear_sky_fraction(latitude_deg: float, t_abs0: float, dt: float, n: int, i0: int = 0) -> np.ndarray:
    """Bin-mean clear-sky AC output as a fraction of capacity over bins ``i0 .. i0 + n - 1``
    (sub-sampled in bins over 60 s; bins under 60 s interpolate a 60-s evaluation on the grid
    from ``t_abs0``, the shape being smooth at that scale)."""
    if dt < 60 and n > 0:
        # the 60-s points around the range (centres at t0 + dt/2 + 60 k): any range gets the bits of the whole
        k0 = max(int(np.floor(dt * i0 / 60.0)) - 1, 0)
        k1 = int(np.ceil(dt * (i0 + n) / 60.0)) + 2
        coarse = clear_sky_fraction(latitude_deg, t_abs0 + 0.5 * dt - 30.0, 60.0, k1 - k0, k0)
        centres = dt * np.arange(i0, i0 + n)
        return np.interp(centres, 60.0 * np.arange(k0, k1), coarse)
    sub = 1 if dt <= 60 else int(min(12, np.ceil(dt / 300)))
    t = t_abs0 + dt * (np.arange(i0, i0 + n)[:, None] + (np.arange(sub)[None, :] + 0.5) / sub)
    doy = np.floor(t / DAY_S) % 365 + 1
    hour = (t % DAY_S) / 3600.0
    decl = np.radians(23.45) * np.sin(2 * np.pi * (284 + doy) / 365.0)
    lat = np.radians(latitude_deg)
    ha = np.radians(15.0 * (hour - 12.0))
    cosz = np.sin(lat) * np.sin(decl) + np.cos(lat) * np.cos(decl) * np.cos(ha)
    cz = np.maximum(cosz, 1e-6)
    ghi = np.where(cosz > 0, 1098.0 * cz * np.exp(-0.057 / cz), 0.0)
    return np.minimum(ghi / 1000.0, 1.0).mean(axis=1)


class PV:
    """Total PV output [MW] (sum over PV generators) over n bins from ``t_abs0``: cloud draws made
    up front from ``ss``, rendered in consecutive ranges (:meth:`bins` in order) with the bits of
    one range."""

    def __init__(self, site, t_abs0: float, dt: float, n: int, ss):
        self.t_abs0, self.dt = t_abs0, dt
        self.parts = []
        for k, g in enumerate(site.pv):
            if g.capacity_mw <= 0:
                continue
            if g.profile != "clear_sky":
                self.parts.append((g, np.loadtxt(g.profile, delimiter=",", skiprows=1, ndmin=2), None, None))
                continue
            rng = child(ss, k)
            day0 = int(np.floor(t_abs0 / DAY_S))
            # the trace's last bin falls in its last day: one clearness draw a day
            last = np.floor((t_abs0 + dt * (np.arange(n - 1, n) + 0.5)) / DAY_S).astype(np.int64) - day0
            c_day = rng.uniform(0, 1, int(last.max()) + 1 if n else 0)
            self.parts.append((g, None, c_day, AR1Bins(CLOUD_SIGMA, CLOUD_TAU_S, dt, n, rng)))

    def bins(self, i0: int, i1: int) -> np.ndarray:
        t_abs0, dt, n = self.t_abs0, self.dt, i1 - i0
        out = np.zeros(n)
        for g, data, c_day, clouds in self.parts:
            if data is not None:
                out += np.maximum(periodic_bin_means(data[:, 0], data[:, 1], t_abs0, dt, n, i0), 0.0)
                continue
            shape = clear_sky_fraction(g.latitude_deg, t_abs0, dt, n, i0)
            day0 = int(np.floor(t_abs0 / DAY_S))
            days = np.floor((t_abs0 + dt * (np.arange(i0, i1) + 0.5)) / DAY_S).astype(np.int64) - day0
            s = clouds.next(n)
            u = np.clip(c_day[days] + s, 0.0, 1.0) if n else np.zeros(0)
            out += g.capacity_mw * shape * (1.0 - g.cloud_variability * u)
        return out


def pv_bins(site, t_abs0: float, dt: float, n: int, ss) -> np.ndarray:
    """Total PV output [MW] over n bins at once (see :class:`PV`)."""
    return PV(site, t_abs0, dt, n, ss).bins(0, n)


def price_bins(site, t_abs0: float, dt: float, n: int, i0: int = 0) -> np.ndarray:
    """Energy price [USD/MWh] over bins ``i0 .. i0 + n - 1``: flat, or the CSV repeated by its own
    period; a time-of-use rate (``grid.tou_energy_prices`` or a URDB ``grid.tariff_file``) replaces
    it in its hours, taken at each bin's middle (bins of at most an hour, aligned to the hour, see
    exactly one)."""
    from bess_size.site_spec.tariff import site_tariff

    p = site.grid.energy_price_usd_per_mwh
    if isinstance(p, str):
        data = np.loadtxt(p, delimiter=",", skiprows=1, ndmin=2)
        base = periodic_bin_means(data[:, 0], data[:, 1], t_abs0, dt, n, i0)
    else:
        base = np.full(n, float(p))
    tariff = site_tariff(site)
    if not tariff.has_tou_energy:
        return base
    return tariff.price_at(t_abs0 + dt * (np.arange(i0, i0 + n) + 0.5), base)
