"""How much of the plan the claim file covers (issue 15): `geo claims extract` stubs of seed 003
against the claim file and the table of stubs a map cannot test."""

from __future__ import annotations

import tomllib

from geo import settings
from geo.claims.extract import extract_stubs
from geo.claims.registry import load_claims

UNTESTABLE = settings.PROJECT_ROOT / "data" / "claims" / "tongzhou-2026-2030-untestable.toml"


def _modelled(stub, claims) -> list[str]:
    """Claims that quote this stub: same line, and one quote contains the other."""
    return [c.id for c in claims if c.source.line == stub.line
            and (c.quote in stub.quote or stub.quote in c.quote)]


def test_extracted_stubs_are_modelled_untestable_or_listed_as_left(seed_plan, capsys):
    stubs = extract_stubs(seed_plan)
    claims = load_claims()
    table = tomllib.loads(UNTESTABLE.read_text(encoding="utf-8"))
    assert table["seed"] == seed_plan.name
    reasons = table["reasons"]
    untestable = {}
    for group in table["stubs"]:
        assert group["reason"] in reasons, group["reason"]
        for sid in group["ids"]:
            assert sid not in untestable, f"{sid} is listed twice"
            untestable[sid] = group["reason"]
    ids = {s.id for s in stubs}
    assert not set(untestable) - ids, f"untestable ids that are no stubs: {set(untestable) - ids}"
    modelled = {s.id: _modelled(s, claims) for s in stubs if _modelled(s, claims)}
    both = set(modelled) & set(untestable)
    assert not both, f"stubs both modelled and called untestable: {sorted(both)}"
    left = [s for s in stubs if s.id not in modelled and s.id not in untestable]
    with capsys.disabled():
        print(f"\nseed 003: {len(stubs)} extracted stubs; {len(modelled)} modelled, "
              f"{len(untestable)} not testable on a map, {len(left)} left")
        for s in left:
            print(f"  left {s.id}: {s.quote[:50]}")
    # the gap is visible and shrinking: most stubs are accounted for
    assert len(modelled) >= 10
    assert len(modelled) + len(untestable) >= len(stubs) // 2
    # every claim of the file quoting an extracted line is matched to its stub
    assert {"C01", "C02", "C04", "C05", "C18", "C20", "C34", "C35", "C42"} <= {
        c for cs in modelled.values() for c in cs}
