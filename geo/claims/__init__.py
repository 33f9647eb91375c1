"""Plan claims: the registry of claims with verbatim quotes (:mod:`geo.claims.registry`),
verdict rules (:mod:`geo.claims.verdict`) and extraction of claim stubs from plan text
(:mod:`geo.claims.extract`)."""

from geo.claims.registry import METRICS, Claim, load_claims, verify_quotes

__all__ = ["METRICS", "Claim", "load_claims", "verify_quotes"]
