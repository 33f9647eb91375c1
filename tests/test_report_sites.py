"""geo.report.sites: a siting in words (count, street/town, gains), checked on toy inputs."""

from types import SimpleNamespace

import geopandas as gpd
from shapely.geometry import Point, box

from geo.report.sites import NO_TOWN, model_words, site_rows, site_towns, sites_headline


def _result(problem="set_covering", target=1.0, n=3):
    sites = gpd.GeoDataFrame(
        {"rank": list(range(1, n + 1)), "covered_gain": [500.4, 300.0, 99.6][:n],
         "covered_gain_share": [0.5004, 0.3, 0.0996][:n]},
        geometry=[Point(116.5, 39.9), Point(116.7, 39.9), Point(117.5, 39.9)][:n], crs=4326)
    return SimpleNamespace(n_sites=n, problem=problem, sites=sites, share_before=0.066,
                           share_after=0.9996 if target else 0.5,
                           parameters={"target_share": target, "weight_column": "population"})


def test_headline_states_the_count_and_the_target():
    text = sites_headline(_result(), {"weight": "population"})
    assert text == ("3 new sites (the fewest reaching 100.0 %) raise the covered population "
                    "from 6.6 % to > 99.9 %")
    one = sites_headline(_result("maximal_covering", None, 1), {"weight": "area_m2"})
    assert one == "1 new site raises the covered area from 6.6 % to 50.0 %"


def test_site_towns_by_point_in_polygon():
    towns = gpd.GeoDataFrame({"name": ["西城", "东城"]},
                             geometry=[box(116.4, 39.8, 116.6, 40.0), box(116.6, 39.8, 116.8,
                                                                           40.0)], crs=4326)
    # hand-checked: 116.5 lies in 西城, 116.7 in 东城, 117.5 in neither
    assert site_towns(_result().sites, towns) == ["西城", "东城", NO_TOWN]
    assert site_towns(_result().sites, None) == [NO_TOWN] * 3
    # the same answer from the towns in a metric CRS
    assert site_towns(_result().sites, towns.to_crs(32650)) == ["西城", "东城", NO_TOWN]


def test_rows_are_whole_people_and_percent():
    rows = site_rows(_result(), None)
    assert rows[0] == ("1", NO_TOWN, "116.50000", "39.90000", "500", "50.0 %")
    assert rows[2][4] == "100"   # 99.6 people -> 100, never fractional


def test_model_words():
    text = model_words({"method": "straight_line", "threshold": 500.0, "unit": "m",
                        "cell_size_m": 250.0})
    assert text == "straight line, within 500 m, 250 m cells"
