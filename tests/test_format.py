"""geo.format: one way to print numbers, shares, people, units, verdicts and methods."""

import math

import pytest

from geo import format as f


@pytest.mark.parametrize(("x", "text"), [
    (0.066, "6.6 %"), (0.0, "0.0 %"), (1.0, "100.0 %"), (0.9996, "> 99.9 %"),
    (0.0004, "< 0.1 %"), (None, "n/a"), (math.nan, "n/a"),
])
def test_fmt_share(x, text):
    assert f.fmt_share(x) == text


def test_fmt_people_is_whole_people():
    assert f.fmt_people(777.3) == "777 people"
    assert f.fmt_people(1283000.4) == "1,283,000 people"
    assert f.fmt_people(None) == "n/a"


def test_fmt_count_and_value_agree_with_each_other():
    assert f.fmt_count(1283.0) == "1,283"
    assert f.fmt_count(4, "stations") == "4 stations"
    assert f.fmt_count(2.5) == "2.5"
    assert f.fmt_value(1283.0, "count") == "1,283"          # not "1.28e+03 count"
    assert f.fmt_value(0.9996, "share") == "> 99.9 %"
    assert f.fmt_value(12.5, "min") == "12.5 min"
    assert f.fmt_value(5.25, "m2_per_person") == "5.25 m²/person"
    assert f.fmt_value(1234.6, "m") == "1,235 m"
    assert f.fmt_value(None, "m") == "n/a"


def test_verdict_and_method_words():
    assert f.verdict_words("not_met") == "not met"
    assert f.verdict_words("met") == "met"
    assert f.verdict_words("inconclusive") == "inconclusive"
    assert f.method_words("straight_line") == "straight line"
    assert f.method_words("network") == "network"
    assert f.method_words("approximation") == "approximation (1.3 x straight line at 30 km/h)"
    assert f.method_words("approximation", circuity=1.4, speed_kph=25) == (
        "approximation (1.4 x straight line at 25 km/h)")
    assert f.method_words(None) == "n/a"


def test_param_words_has_no_python_or_json_syntax():
    text = f.param_words({"min_area_ha": 0.5, "tiers": [1, 2]})
    assert text == "min area (ha) 0.5, tiers 1, 2"
    tiers = [{"min_area_ha": 0.5, "radius_m": 500}, {"min_area_ha": 0.2, "radius_m": 300}]
    assert f.param_words(tiers) == ("min area (ha) 0.5, radius (m) 500; "
                                    "min area (ha) 0.2, radius (m) 300")
    assert f.param_words("straight_line") == "straight line"
    assert f.param_words("22号线|平谷线") == "22号线|平谷线"
    assert f.param_words(2988902) == "2988902"
    assert not any(c in text for c in "{}'\"")
    assert f.param_words(None) == "none"
    assert f.param_words(1.283e6) == "1,283,000"
    assert f.param_words(True) == "yes"


def test_key_words():
    assert f.key_words("osm_source") == "OSM source"
    assert f.key_words("cell_size_m") == "cell size (m)"
    assert f.key_words("network_notes") == "network notes"


def test_fmt_cell_size():
    assert f.fmt_cell_size(250) == "250 m cells"


def test_prose_spells_out_machine_words_and_names_the_area():
    note = ("the target is for 2030, so not_met describes the map today; 45 rail_station "
            "facilities; get one with fetch_geofabrik(area='tongzhou'), then pass network_path=FILE")
    text = f.prose(note, fetch_area="haidian")
    assert "not met describes" in text and "45 rail station facilities" in text
    assert "fetch_geofabrik(area='haidian')" in text and "tongzhou" not in text
    assert f.prose("fetch_geofabrik(area='tongzhou')") == "fetch_geofabrik(area='tongzhou')"
    assert f.prose("name_pattern stays") == "name_pattern stays"   # only known patterns change


def test_dates_and_count_methods_in_words():
    assert f.fmt_date("2026-06-07T20:21:20Z") == "2026-06-07 20:21 UTC"
    assert f.fmt_date("2026-06-07T20:21:20") == "2026-06-07 20:21"
    assert f.fmt_date("2026-06-07") == "2026-06-07"
    assert f.fmt_date(None) == "unknown"
    assert f.method_words("osm_count") == "OSM count"
    assert f.method_words("name_match") == "name match"
