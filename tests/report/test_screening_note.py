"""The report says which generation fleet the transient requirements were screened with."""

from bess_size.report.page import _screening_note


def test_note_names_the_screened_fleet_and_the_rounds():
    ts = {"fleet": [{"kind": "gas_engine", "units": 5}], "rounds": 2, "stable": True, "fleet_sensitive": True}
    text = _screening_note(ts)
    assert "5 gas_engine installed" in text and "2 solves" in text and "same figures as the screened one" in text


def test_note_without_generation():
    assert "no thermal generation" in _screening_note({})
