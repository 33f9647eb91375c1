"""The ``geo`` command. The only module that prints, shows progress and chooses exit codes.

Exit codes: 0 success, 1 unexpected failure (a bug: traceback shown), 2 bad input or missing
data (one line on stderr; the traceback only with ``-v``), 130 interrupted.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from geo import settings
from geo.errors import GeoError

log = logging.getLogger(__name__)

app = typer.Typer(
    help="Check the Beijing city sub-center (Tongzhou) plan's spatial claims against OpenStreetMap.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Inspect and download the data the checks run on.", no_args_is_help=True)
app.add_typer(data_app, name="data")

_state = {"verbose": False}

DataDirOption = Annotated[
    Optional[Path],
    typer.Option("--data-dir", help="Data directory (else GEO_DATA_DIR, data/local/, ../shared/data)."),
]


@app.callback()
def _root(
    data_dir: DataDirOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress; show tracebacks.")] = False,
    offline: Annotated[bool, typer.Option("--offline", help="Never touch the network.")] = False,
) -> None:
    _state["verbose"] = verbose
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if data_dir is not None:
        settings.data_dir = data_dir
    if offline:
        settings.offline = True


def _data_dir(option: Path | None) -> Path:
    """The data directory for a command: its own ``--data-dir``, else the global resolution."""
    return settings.resolve_data_dir(option if option is not None else settings.data_dir)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the app and map errors to exit codes.

    Typer's standalone mode already turns usage errors into exit code 2 and Ctrl-C into an
    "Aborted!" exit 1; the toolkit's own errors (bad input, missing data) become one line on
    stderr and exit code 2.
    """
    try:
        app(args=argv, prog_name="geo")
    except GeoError as exc:
        if _state["verbose"]:
            log.exception("failed")
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
