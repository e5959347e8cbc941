"""PV (clear-sky shape with clouds, or a CSV) and prices (flat or a CSV repeated)."""

from __future__ import annotations

import numpy as np
import pytest

from bess_size.scenarios.pv_price import clear_sky_fraction, price_bins, pv_bins
from bess_size.scenarios.render import periodic_bin_means

from .conftest import make_site

DAY = 86400.0


def test_clear_sky_shape_seasons_and_night():
    """Latitude 31 N: zero at night, symmetric about solar noon, summer days longer and higher than
    winter ones (daily energy June/December > 1.4; Haurwitz at noon: cos z = cos(31 - 23.4 deg))."""
    june = clear_sky_fraction(31.0, 171 * DAY, 60.0, 1440)
    dec = clear_sky_fraction(31.0, 354 * DAY, 60.0, 1440)
    assert june[:240].max() == 0 and june[-120:].max() == 0  # 0-4 h and 22-24 h
    assert (np.arange(1440) * june).sum() / june.sum() == pytest.approx(719.5, abs=2)  # symmetric about noon
    cz = np.cos(np.radians(31.0 - 23.45))
    assert june.max() == pytest.approx(min(1.0, 1.098 * cz * np.exp(-0.057 / cz)), rel=0.01)
    assert june.sum() / dec.sum() > 1.4


def test_clouds_only_lower_the_output_and_stay_deterministic():
    site = make_site(generation=[{"kind": "pv", "capacity_mw": 40, "latitude_deg": 31, "cloud_variability": 0.5}])
    ss = np.random.SeedSequence(3)
    pv = pv_bins(site, 100 * DAY, 10.0, 8640 * 3, ss)
    clear = 40 * clear_sky_fraction(31.0, 100 * DAY, 10.0, 8640 * 3)
    assert np.all(pv <= clear + 1e-9) and np.all(pv >= 0.5 * clear - 1e-9)  # depth at most 50 %
    assert pv.sum() < clear.sum()
    np.testing.assert_array_equal(pv, pv_bins(site, 100 * DAY, 10.0, 8640 * 3, np.random.SeedSequence(3)))


def test_profile_csvs_repeat_with_their_period(tmp_path):
    """A 24-h price CSV (hourly, 10..33 USD/MWh) repeats each day; bin means are exact
    (a 2-h bin from 23:00 averages 33 and 10)."""
    t = np.arange(24) * 3600.0
    v = 10.0 + np.arange(24)
    m = periodic_bin_means(t, v, 23 * 3600.0, 7200.0, 3)
    np.testing.assert_allclose(m, [(33 + 10) / 2, (11 + 12) / 2, (13 + 14) / 2])
    path = tmp_path / "price.csv"
    np.savetxt(path, np.column_stack([t, v]), delimiter=",", header="time_s,usd_per_mwh", comments="")
    pv_path = tmp_path / "pv.csv"
    np.savetxt(pv_path, np.column_stack([t, np.clip(v - 20, 0, None)]), delimiter=",", header="time_s,pv_mw", comments="")
    from bess_size.site_spec import validate_site
    from .conftest import BASE
    import copy

    data = copy.deepcopy(BASE)
    data["grid"]["energy_price_usd_per_mwh"] = str(path)
    data["generation"] = [{"kind": "pv", "capacity_mw": 20, "profile": str(pv_path)}]
    site = validate_site(data, "<test>", tmp_path)
    p = price_bins(site, 3 * DAY, 3600.0, 48)
    np.testing.assert_allclose(p, np.tile(v, 2))
    pv = pv_bins(site, 5 * DAY + 3600 * 22, 3600.0, 4, np.random.SeedSequence(0))
    np.testing.assert_allclose(pv, [12.0, 13.0, 0.0, 0.0])
