"""Exception classes. Each also subclasses the matching builtin so callers can catch either.

Messages are one line: they name the argument or file, what was expected, what arrived and, where
there is one, the fix. The CLI prints them as they are and exits with code 2.
"""


class GeoError(Exception):
    """Base class of every error the toolkit raises on purpose (bad input, missing data)."""


class DataNotFoundError(GeoError, FileNotFoundError):
    """A data directory, layer or file is missing."""


class DataError(GeoError, ValueError):
    """A data file exists but cannot be used (corrupt, empty, wrong columns)."""


class UnknownAreaError(GeoError, LookupError):
    """An area name matches no district; the message suggests the closest names."""

    def __str__(self) -> str:  # LookupError would quote the message like a KeyError
        return str(self.args[0]) if self.args else ""


class CRSError(GeoError, ValueError):
    """A geometry is missing its CRS or is in a CRS that cannot be used here."""


class NetworkError(GeoError, ValueError):
    """A graph cannot be used: empty, missing a weight attribute, bad weights, unknown nodes."""


class ClaimSpecError(GeoError, ValueError):
    """A claim file or claim record is malformed (unknown or missing keys, bad target)."""


class OfflineError(GeoError, ConnectionError):
    """A download or Overpass query was needed but the network cannot be reached."""


class EmptyResultError(GeoError, ValueError):
    """An operation produced nothing where something was required (no facilities, no cells)."""


class OutputError(DataError, OSError):
    """An output path cannot be written: a folder where a file is due (or the reverse), a
    parent that is a file, no write permission, or a folder the toolkit did not write."""

    def __str__(self) -> str:  # OSError would prefix errno fields
        return str(self.args[0]) if self.args else ""
