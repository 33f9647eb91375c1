"""The ``geo`` command. The only module that prints, shows progress and chooses exit codes.

Exit codes: 0 success, 1 unexpected failure (a bug: traceback shown), 2 bad input or missing
data (one line on stderr; the traceback only with ``-v``), 130 interrupted.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.core

from geo import settings
from geo.errors import GeoError
from geo.report.options import DEFAULT_CELL_SIZE_M

log = logging.getLogger(__name__)

app = typer.Typer(
    help="Check the Beijing city sub-center (Tongzhou) plan's spatial claims against OpenStreetMap.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Inspect and download the data the checks run on.", no_args_is_help=True)
app.add_typer(data_app, name="data")

_state = {"verbose": False, "quiet": False}

#: One default demand cell width (m) for every command, so evaluate, report and site give the
#: same number for the same claim.
CELL_SIZE_M = DEFAULT_CELL_SIZE_M

_original_display_type = typer.core.TyperOption.display_type_rich


def _flag_display_type(self: typer.core.TyperOption, ctx: Any) -> str | None:
    # reason: typer 0.29 prints a "<bool>" metavar after on/off flags, which take no value
    return None if self.is_flag else _original_display_type(self, ctx)


typer.core.TyperOption.display_type_rich = _flag_display_type  # type: ignore[method-assign]


class _Once(logging.Filter):
    """Let each distinct warning through once; remember what was shown (``seen``)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        if record.levelno >= logging.WARNING:
            if msg in self.seen:
                return False
            self.seen.add(msg)
        return True


_ONCE = _Once()


class _Verbose(logging.Formatter):
    """The standard "LEVEL logger: message" lines, Python argument names turned into flags."""

    def format(self, record: logging.LogRecord) -> str:
        return cli_words(super().format(record))


class _Plain(logging.Formatter):
    """"warning: message" for a person; the logger name and level only with -v."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {cli_words(record.getMessage())}"

DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory (else GEO_DATA_DIR, data/local/, ../shared/data)."),
]
BuiltUpOption = Annotated[Path | None, typer.Option(
    "--built-up", help="GeoJSON polygon of the built-up area (e.g. the 155 km² sub-center "
    "core); default: OSM landuse, else a density proxy.")]
ReferenceOption = Annotated[Path | None, typer.Option(
    "--reference", help="GeoJSON or CSV of facilities (name, kind, lon/lat; datum in the file "
    "or --datum) merged with OSM per claim.")]
JobsLayerOption = Annotated[Path | None, typer.Option(
    "--jobs-layer", help="Jobs per polygon (GeoJSON/GeoPackage with a count column) or a "
    "GeoTIFF of counts: the 'residents and jobs' denominator (C01) and jobs destinations "
    "(C19). OSM has no jobs.")]
JobsCountOption = Annotated[str | None, typer.Option(
    "--jobs-count-column", help="Column of --jobs-layer holding the job counts.")]


@app.callback()
def _root(
    data_dir: DataDirOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress; show tracebacks.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines or bars "
                                        "(warnings and errors still show).")] = False,
    offline: Annotated[bool, typer.Option("--offline", help="Never touch the network.")] = False,
) -> None:
    _state["verbose"] = verbose
    _state["quiet"] = quiet and not verbose
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Verbose("%(levelname)s %(name)s: %(message)s") if verbose
                         else _Plain())
    handler.addFilter(_ONCE)
    _ONCE.seen.clear()
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "geo_cli", False)]:
        root.removeHandler(old)
    handler.geo_cli = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    if data_dir is not None:
        settings.data_dir = data_dir
    if offline:
        settings.offline = True


def reset_state() -> None:
    """Forget the global options of an earlier in-process run (``-v``, ``-q``)."""
    _state["verbose"] = False
    _state["quiet"] = False


def _data_dir(option: Path | None) -> Path:
    """The data directory for a command: its own ``--data-dir``, else the global resolution."""
    return settings.resolve_data_dir(option if option is not None else settings.data_dir)


#: Python names in library messages -> this CLI's options and commands (regex, replacement),
#: applied in order. Library code names Python arguments only; this table is the one place
#: that knows the flags.
PYTHON_TO_FLAG: tuple[tuple[str, str], ...] = (
    (r"fetch_geofabrik\(area='([^']*)', data_dir='([^']*)'\)",
     r"'geo data fetch --area \1 --data-dir \2'"),
    (r"fetch_geofabrik\(area='([^']*)'\)", r"'geo data fetch --area \1'"),
    (r"\bfetch_geofabrik\b", "geo data fetch"),
    (r"close_gap\(ctx, claim, add=(\d+)\) \(the CLI's geo site\)",
     r"'geo site --claim <id> --add \1'"),
    (r"\(network_path\)", "(from --network)"),
    (r"\bnetwork_path=FILE", "--network FILE"),
    (r"\(from data_dir\)", "(from --data-dir)"),
    (r"\bdata_dir=DIR", "--data-dir DIR"),
    (r"\bdata_dir=", "--data-dir"),
    (r"settings\.offline / GEO_OFFLINE", "--offline / GEO_OFFLINE"),
    (r"\bcdn=True", "--cdn"),
    (r"\btiles_key=\.\.\.", "--tiles-key KEY"),
    (r"\bsource='worldpop'", "--source worldpop"),
    (r"\bcount_column=", "--count-column"),
    (r"no jobs layer: give one with population=FILE", "no jobs layer: give one with --jobs FILE"),
    (r"population_surface\(area, kind='jobs', population=FILE\)",
     "'geo data population --jobs FILE'"),
    (r"\bbuilt_up=FILE", "--built-up FILE"),
    (r"\bjobs=FILE", "--jobs-layer FILE"),
    (r"\breference=FILE", "--reference FILE"),
    (r"\bwhat ('[^']*' is not a file kind)", r"--what \1"),
    (r"check area= and url_base=", "check --area and --url-base"),
    (r"\bcell_size_m=", "--cell-size-m "),
    (r"\bpath=FILE", "--claims FILE"),
    (r"\badd=N\b", "--add N"),
    (r"\btarget_share=SHARE", "--target SHARE"),
    (r"\braise time_limit_s\b", "raise --time-limit-s"),
    (r"\btarget_share<=", "--target "),
    (r"\btarget_share=", "a target of "),
    (r"\bdatum=(\w+)", r"--datum \1"),
    (r"\bdatum=", "--datum"),
)
_PYTHON_TO_FLAG = [(re.compile(pattern), repl) for pattern, repl in PYTHON_TO_FLAG]


def cli_words(message: str) -> str:
    """A library message with its Python argument names replaced by the CLI's options."""
    for pattern, repl in _PYTHON_TO_FLAG:
        message = pattern.sub(repl, message)
    return plain(message)


#: Terminal control characters (C0 but tab and newline, DEL, C1).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def plain(text: Any) -> str:
    """``text`` without terminal control characters, each shown as "?": an escape sequence in
    a name from OSM, a claim file or a path could otherwise rewrite the user's terminal."""
    return _CONTROL.sub("?", str(text))


def escape(text: Any) -> str:
    """Text for rich output: control characters replaced (:func:`plain`), markup escaped."""
    from rich.markup import escape as markup_escape

    return markup_escape(plain(text))


def _echo(text: Any = "", **kwargs: Any) -> None:
    """``typer.echo`` of text without terminal control characters (the only way ``geo``
    prints plain lines)."""
    typer.echo(plain(text), **kwargs)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the app and map errors to exit codes.

    Usage errors (unknown option, bad value), the toolkit's own errors (bad input, missing
    data) and operating-system errors on the user's paths (a folder where a file is due, no
    permission, disk full) become one ``error:`` line on stderr and exit code 2; the traceback
    only with ``-v``. Ctrl-C exits 130 with what finished and how to resume.
    """
    try:
        rc = app(args=argv, prog_name="geo", standalone_mode=False)
    except _USAGE_ERRORS as exc:
        usage: Any = exc  # a click UsageError (typer vendors its own click class)
        hint = f" (see 'geo {usage.ctx.command_path.partition(' ')[2]} --help')".replace(
            "geo  --help", "geo --help") if usage.ctx is not None else ""
        _echo(f"error: {_one_line(usage.format_message())}{hint}", err=True)
        sys.exit(2)
    except typer.Abort:
        _echo("interrupted", err=True)
        sys.exit(130)
    except (GeoError, OSError, RecursionError, UnicodeError) as exc:
        if _state["verbose"]:
            log.exception("failed")
        _echo(f"error: {_error_text(exc)}", err=True)
        sys.exit(2)
    except KeyboardInterrupt as exc:
        detail = str(exc)
        _echo(f"interrupted: {detail}" if detail else "interrupted", err=True)
        sys.exit(130)
    if isinstance(rc, int) and rc != 0:
        sys.exit(rc)


def _usage_errors() -> tuple[type[BaseException], ...]:
    """Click's UsageError classes: typer >= 0.29 vendors click as ``typer._click``."""
    found: list[type[BaseException]] = [typer.BadParameter.__mro__[1]]  # UsageError
    try:
        import click

        found.append(click.exceptions.UsageError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(found)


_USAGE_ERRORS = _usage_errors()


def _one_line(text: str, limit: int = 1000) -> str:
    """``text`` on one line, cut to ``limit`` characters (data names can be huge)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[:limit] + "..."


def _error_text(exc: BaseException) -> str:
    """One line for an expected failure: the toolkit's message (Python argument names turned
    into flags), or for an OS error the path, the problem and a fix."""
    if isinstance(exc, GeoError):
        return _one_line(cli_words(str(exc)))
    if isinstance(exc, RecursionError):
        return ("an input file is nested too deeply to be read (a broken or hostile JSON, TOML "
                "or XML file): check the files given on the command line")
    if isinstance(exc, UnicodeError):
        return _one_line(f"an input file is not UTF-8 text ({exc}): convert it to UTF-8")
    assert isinstance(exc, OSError)
    where = exc.filename if exc.filename is not None else "a file"
    problem = exc.strerror or str(exc) or type(exc).__name__
    return _one_line(f"{where}: {problem}: check the path, its permissions and the free "
                     "space", limit=600)


@contextmanager
def _progress(label: str, total: int | None = None) -> Iterator[Callable[[str], None]]:
    """Progress of one command on stderr; yields ``step(description)`` to call per step.

    A terminal gets a rich bar (cleared at the end); piped stderr gets one plain line per step
    with the seconds elapsed; ``--quiet`` shows nothing.
    """
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    console = Console(stderr=True)
    t0 = time.perf_counter()
    if _state["quiet"]:
        yield lambda _desc: None
    elif console.is_terminal:
        columns = ((SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
                   if total is None else
                   (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn()))
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task(escape(label), total=total)
            first = [True]

            def step(desc: str) -> None:
                bar.update(task, advance=0 if first[0] else 1,
                           description=escape(f"{label}: {desc}"))
                first[0] = False

            yield step
    else:
        def step(desc: str) -> None:
            _echo(f"[{time.perf_counter() - t0:5.1f} s] {label}: {desc}", err=True)

        yield step


# --------------------------------------------------------------------------- geo data fetch

def _fetch_target_dir(option: Path | None) -> Path:
    """Where ``geo data fetch`` writes: --data-dir, GEO_DATA_DIR, else ``data/local`` in the
    checkout (never the read-only shared bundle). Created if missing."""
    import os

    if option is not None:
        return option
    if settings.data_dir is not None:
        return Path(settings.data_dir)
    env = os.environ.get("GEO_DATA_DIR")
    return Path(env) if env else settings.PROJECT_ROOT / "data" / "local"


@data_app.command("fetch")
def data_fetch(
    area: Annotated[str, typer.Option("--area", help="Study area (a Beijing district such as "
                                      "tongzhou / 通州区, or beijing).")],
    data_dir: DataDirOption = None,
    url_base: Annotated[str, typer.Option("--url-base", help="Download server (a Geofabrik "
                                          "mirror).")] = "https://download.geofabrik.de",
    what: Annotated[str, typer.Option("--what", help="Comma-separated: pbf (OSM PBF), shp "
                                      "(free shapefile zip, unpacked).")] = "pbf,shp",
) -> None:
    """Download Geofabrik's extract covering AREA (PBF and free shapefiles) into the data
    directory, with resume, size and MD5 checks."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from geo.io import check_output
    from geo.sources.download import fetch_geofabrik

    kinds = [k.strip() for k in what.split(",") if k.strip()]
    target = check_output(_fetch_target_dir(data_dir), kind="folder", what="--data-dir")
    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), TimeRemainingColumn(), console=console, transient=True,
                  disable=not console.is_terminal or _state["quiet"]) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(label: str, done: int, total: int | None) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(escape(label), total=total)
            bar.update(tasks[label], completed=done, total=total)

        result = fetch_geofabrik(area, data_dir=target, url_base=url_base, what=kinds,
                                 progress=progress)
    for kind, dl in result.downloads.items():
        note = ("already present" if dl.skipped else
                f"resumed from byte {dl.resumed_from_bytes:,}" if dl.resumed_from_bytes else
                "downloaded")
        _echo(f"{kind}: {dl.path} ({dl.size_bytes:,} bytes, md5 {dl.md5}, {note})")
    if result.shapefile_dir is not None:
        _echo(f"shapefiles: {result.shapefile_dir}")
    _echo(f"data directory: {target} (use it with --data-dir {target} or GEO_DATA_DIR)")


# --------------------------------------------------------------------------- geo claims

claims_app = typer.Typer(help="Plan claims: check the claim file, extract stubs from a plan.",
                         no_args_is_help=True)
app.add_typer(claims_app, name="claims")


@claims_app.command("extract")
def claims_extract(
    plan: Annotated[Path, typer.Argument(help="Plan text (UTF-8, one paragraph per line).")],
    out: Annotated[Path | None, typer.Option("--out", help="Write the TOML stubs here "
                                                "(atomically) instead of stdout.")] = None,
) -> None:
    """Find sentences with measurable targets in PLAN and write claim stubs (TOML) with the
    verbatim quote, line number and a guessed target, for a planner to complete."""
    from geo.claims.extract import extract_to_toml
    from geo.io import check_output, write_text

    if out is not None:
        check_output(out, kind="file", what="--out")
    text, n = extract_to_toml(plan)
    if n == 0:
        from geo.errors import EmptyResultError

        raise EmptyResultError(f"no measurable targets (覆盖率, 米, 分钟, %, 个 ...) found in {plan}: "
                               "is it a Chinese plan text, one paragraph per line, in UTF-8?")
    if out is None:
        _echo(text, nl=False)
        _echo(f"{n} claim stubs from {plan}", err=True)
    else:
        write_text(out, text)
        _echo(f"wrote {n} claim stubs from {plan} to {out}")


@claims_app.command("check")
def claims_check(
    claims: Annotated[Path | None, typer.Option("--claims", help="Claim file (default: the "
                                                   "packaged Tongzhou 2026-2030 claims).")] = None,
    seeds: Annotated[Path | None, typer.Option("--seeds", help="Folder with the plan texts "
                                                  "the quotes cite (default ../shared/seeds "
                                                  "when present).")] = None,
) -> None:
    """Validate a claim file and check every quote verbatim at its cited line."""
    from geo.claims.registry import load_claims, verify_quotes

    items = load_claims(claims)
    for c in items:
        t = c.target
        value = "" if t.value is None else f" {t.value:g}"
        _echo(f"{c.id}\t{c.metric}\t{t.comparator}{value} {t.unit} ({t.year})\t"
                   f"{c.source.document}:{c.source.line}\t{c.title_en}")
    seed_dir = seeds if seeds is not None else settings.PROJECT_ROOT.parent / "shared" / "seeds"
    if seeds is None and not seed_dir.is_dir():
        _echo(f"{len(items)} claims valid; quotes not verified (no seed folder at "
                   f"{seed_dir}; pass --seeds DIR)", err=True)
        return
    problems = verify_quotes(items, seed_dir)
    for p in problems:
        _echo(f"error: {p}", err=True)
    if problems:
        raise typer.Exit(code=2)
    _echo(f"{len(items)} claims valid; every quote found verbatim at its line in {seed_dir}",
               err=True)


# --------------------------------------------------------------------------- geo data summary

def data_summary_dict(area_name: str, *, data_dir: Path | None = None,
                      osm_path: Path | None = None) -> dict:
    """The figures of ``geo data summary`` as a dict (keys in the documented order).

    ``expressway_entrances`` is ``None`` (not 0) when the source has no road network, and
    ``notes`` says why; ``layers_missing`` then contains ``roads``.
    """
    from geo import facilities
    from geo.areas import get_area
    from geo.demand import area_population, population_source, population_townships
    from geo.errors import DataNotFoundError
    from geo.sources import load_osm
    from geo.sources.geofabrik import DEFAULT_LAYERS

    root = _data_dir(data_dir) if osm_path is None or data_dir is not None else None
    area = get_area(area_name, data_dir=root)
    # a Geofabrik folder's roads layer is read (and reported missing when absent); PBF/XML
    # files give their road network to geo.network directly (osmnx / pyrosm handle one-ways)
    file_source = osm_path is not None and not Path(osm_path).is_dir()
    layers = DEFAULT_LAYERS if file_source else [*DEFAULT_LAYERS, "roads"]
    osm = load_osm(area, data_dir=root, path=osm_path, layers=layers)
    notes: list[str] = []
    entrances: int | None
    if "roads" in osm.layers_missing and osm.path is not None and osm.path.is_dir():
        entrances = None
        notes.append("expressway entrances: no road network in the data (layer 'roads' "
                     "missing); give a PBF/XML file (--network) or a Geofabrik roads layer")
    else:
        from geo.network import graph_from_osm

        try:
            G = graph_from_osm(osm, "drive")
        except DataNotFoundError as exc:
            entrances = None
            notes.append(f"expressway entrances: {exc}")
        else:
            entrances = len(facilities.expressway_entrances(G, area))
    population: float | None = None
    worldpop: float | None = None
    pop_source: str | None = None
    try:
        towns = population_townships(data_dir=root)
        import shapely

        if shapely.intersects(area.geometry_m, towns.geometry.values).any():
            # the surface evaluate and report measure on (census-adjusted when the data has
            # the 2020 census table), and WorldPop's counts as published beside it
            from geo.demand import population_cells
            from geo.population.surface import census_districts

            try:
                census_districts(root)
                source = "census"
            except DataNotFoundError:
                source = "worldpop"
            cells = population_cells(area, data_dir=root, spread="dasymetric", source=source)
            population = float(cells["population"].sum())
            pop_source = population_source("dasymetric", source)
            worldpop = area_population(area, data_dir=root)
            if source == "census":
                notes.append(f"population: {population:,.0f} is WorldPop's township split "
                             f"scaled to the 2020 census district totals (what geo evaluate "
                             f"and geo report use); WorldPop's counts as published give "
                             f"{worldpop:,.0f}")
        else:
            notes.append("population: the population layer does not cover this area")
    except DataNotFoundError as exc:
        notes.append(f"population: {exc}")
    return {
        "area_name": area.name,
        "osm_id": area.osm_id,
        "area_km2": round(area.area_km2, 2),
        "crs": settings.metric_crs,
        "rail_stations": len(facilities.rail_stations(osm, area)),
        "parks": len(facilities.parks(osm, area)),
        "fire_stations": len(facilities.fire_stations(osm, area)),
        "expressway_entrances": entrances,
        "population": None if population is None else round(population),
        "population_source": pop_source,
        "osm_data_date": osm.osm_data_date,
        "layers_missing": osm.layers_missing,
        "osm_source": osm.source,
        "population_worldpop": None if worldpop is None else round(worldpop),
        "notes": notes,
    }


@data_app.command("summary")
def data_summary(
    area: Annotated[str, typer.Option("--area", help="Study area: a Beijing district "
                                      "(tongzhou / 通州区), beijing, or a GeoJSON polygon file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    data_dir: DataDirOption = None,
    network: Annotated[Path | None, typer.Option("--network", help="Read OSM (with roads) "
                       "from this PBF/XML file or Geofabrik folder instead.")] = None,
    osm: Annotated[Path | None, typer.Option("--osm", hidden=True,
                                             help="Old name of --network.")] = None,
) -> None:
    """Summarise the data for an area: size, facilities, population, OSM date, missing layers."""
    import json

    from geo.errors import DataError

    if network is not None and osm is not None and network != osm:
        raise DataError("--network and --osm (its old name) name different files: give one")
    summary = data_summary_dict(area, data_dir=data_dir, osm_path=network or osm)
    if as_json:
        _echo(json.dumps(summary, ensure_ascii=False))
        return
    from rich.table import Table

    from geo.format import fmt_date

    rel = f" (OSM relation {summary['osm_id']})" if summary["osm_id"] is not None else ""
    table = Table(title=escape(f"{summary['area_name']}{rel}"))
    table.add_column("item")
    table.add_column("value", overflow="fold")
    labels = [("area_km2", "area (km²)"), ("rail_stations", "rail stations"),
              ("parks", "parks (polygons)"), ("fire_stations", "fire stations"),
              ("expressway_entrances", "expressway entrances"), ("population", "population"),
              ("population_source", "population source"),
              ("population_worldpop", "population, WorldPop as published"),
              ("osm_data_date", "OSM data date"),
              ("osm_source", "OSM source"), ("layers_missing", "layers missing"),
              ("crs", "metric CRS")]
    for key, label in labels:
        value = summary[key]
        if key == "osm_data_date":
            text = fmt_date(value)
        elif isinstance(value, list):
            text = ", ".join(value) or "none"
        elif key.startswith("population") and isinstance(value, float):
            text = f"{value:,.0f}"  # whole people
        elif isinstance(value, float):
            text = f"{value:,.1f}"
        elif isinstance(value, int) and not isinstance(value, bool):
            text = f"{value:,}"
        else:
            text = "n/a" if value is None else str(value)
        table.add_row(label, escape(text))
    console = _console()
    console.print(table)
    for note in summary["notes"]:
        console.print(f"note: {escape(note)}")


# ------------------------------------------------------------------ geo evaluate

def _console() -> Any:
    """A rich console; piped output gets 120 columns instead of 80 so tables do not wrap."""
    from rich.console import Console

    probe = Console()
    return probe if probe.is_terminal else Console(width=120)


_VERDICT_STYLE = {"met": "green", "not_met": "red", "inconclusive": "yellow",
                  "measured": "cyan"}


def _inputs_line(data: dict[str, Any], cell_size_m: Any) -> str:
    """What an evaluation ran on, in words: OSM data, population method, cell size, network."""
    from geo.format import fmt_cell_size

    network = data.get("network_source") or "none (no road network given)"
    return (f"data: {data.get('osm_source') or 'n/a'}; population: "
            f"{data.get('population_source') or 'n/a'}; demand cells: "
            f"{fmt_cell_size(cell_size_m)}; road network: {network}")


# --------------------------------------------------------------------------- geo data population

@data_app.command("population")
def data_population(
    area: Annotated[str, typer.Option("--area", help="Study area: a Beijing district "
                                      "(tongzhou / 通州区), beijing, or a GeoJSON polygon file.")],
    out: Annotated[Path, typer.Option("--out", help="Output file: .parquet (GeoParquet), .gpkg "
                                      "or .csv; <out>.info.json gets the method and the total.")],
    population: Annotated[Path | None, typer.Option(
        "--population", help="Your own counts: polygons (GeoJSON/GPKG/Shapefile, with "
        "--count-column) or a GeoTIFF of counts per pixel.")] = None,
    count_column: Annotated[str | None, typer.Option(
        "--count-column", help="Column of --population (or --jobs) holding the counts.")] = None,
    source: Annotated[str, typer.Option("--source", help="Bundle counts when no --population: "
                                        "census (WorldPop split scaled to the 2020 census) or "
                                        "worldpop.")] = "census",
    method: Annotated[str, typer.Option("--method", help="dasymetric (OSM ancillary, fitted "
                                        "weights) or area (even spread).")] = "dasymetric",
    jobs: Annotated[Path | None, typer.Option("--jobs", help="Write a jobs surface from this "
                                              "file instead (same formats as --population).")
                    ] = None,
    cell_size_m: Annotated[float, typer.Option("--cell-size-m", help="Hex cell width, metres.")
                           ] = 250.0,
    data_dir: DataDirOption = None,
) -> None:
    """Write the population (or jobs) per hex cell, with the method and how the total formed."""
    from geo.errors import DataError
    from geo.population import population_surface, write_surface
    from geo.population.surface import METHODS, OUT_FORMATS, SOURCES

    if out.suffix.lower() not in OUT_FORMATS:
        raise DataError(f"--out {out}: unknown extension {out.suffix!r}; use one of "
                        f"{', '.join(OUT_FORMATS)}")
    if source not in SOURCES:
        raise DataError(f"--source must be one of {', '.join(SOURCES)}, got {source!r}")
    if method not in METHODS:
        raise DataError(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
    if not cell_size_m > 0:
        raise DataError(f"--cell-size-m must be positive, got {cell_size_m:g}")
    kind = "jobs" if jobs is not None else "population"
    cells, info = population_surface(area, source=source, method=method,
                                     population=jobs if jobs is not None else population,
                                     count_column=count_column, cell_size_m=cell_size_m,
                                     data_dir=_data_dir(data_dir), kind=kind)
    path = write_surface(cells, info, out)
    _echo(info.summary(), err=True)
    _echo(f"{len(cells):,} cells written to {path} (+ {path.name}.info.json); "
               f"{info.citation}", err=True)


@app.command("evaluate")
def evaluate(
    area: Annotated[str, typer.Option("--area", help="Study area (tongzhou / 通州区, any "
                                      "district, or a GeoJSON polygon file).")],
    claims: Annotated[Path | None, typer.Option("--claims", help="Claim file (TOML); "
                      "default: data/claims/tongzhou-2026-2030.toml.")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the JSON result "
                         "here ('-' for stdout).")] = None,
    network: Annotated[Path | None, typer.Option("--network", help="OSM PBF/XML file with "
                       "roads for walk/drive networks.")] = None,
    cell_size_m: Annotated[float, typer.Option("--cell-size-m", help="Demand hex cell width "
                           "(m).")] = CELL_SIZE_M,
    no_sensitivity: Annotated[bool, typer.Option("--no-sensitivity", help="Skip the "
                              "sensitivity variants (faster; nothing is called robust).")] = False,
    scenario: Annotated[Path | None, typer.Option("--scenario", help="GeoJSON of facilities "
                        "to add or remove (see README).")] = None,
    datum: Annotated[str | None, typer.Option("--datum", help="Datum of the scenario's "
                     "points when the file does not declare one: wgs84, gcj02 (Amap/Tencent) "
                     "or bd09 (Baidu).")] = None,
    built_up: BuiltUpOption = None,
    reference: ReferenceOption = None,
    jobs_layer: JobsLayerOption = None,
    jobs_count_column: JobsCountOption = None,
    data_dir: DataDirOption = None,
) -> None:
    # reason for the long parameter list: one parameter per command-line option (typer)
    """Evaluate the plan's claims for an area: measured value, method, verdict, sensitivity."""
    import json

    from geo import io, validate

    validate.check_number("--cell-size-m", cell_size_m, validate.CELL_SIZE_M)
    if json_path is not None and str(json_path) != "-":
        io.check_output(json_path, kind="file", what="--json")
    from geo.areas import get_area
    from geo.claims.registry import load_claims

    the_area = get_area(area, data_dir=_data_dir(data_dir))   # bad input fails before any
    load_claims(claims)                                        # progress line
    from geo.claims.context import study_inputs

    # the study's own inputs (extent, reference inventory, jobs), checked before any work
    extras = study_inputs(built_up=built_up, reference=reference, datum=datum,
                          jobs=jobs_layer, jobs_count_column=jobs_count_column)
    with _progress(f"evaluating {the_area.name_en}") as step:
        before, ev, payload = _evaluate_run(the_area, data_dir, network, cell_size_m, claims,
                                            not no_sensitivity, scenario, datum, step, extras)
    if json_path is not None:
        text = json.dumps(payload, ensure_ascii=False, indent=2)
        if str(json_path) == "-":
            _echo(text)
            return
        io.write_text(json_path, text + "\n")
    console = _console()
    _print_evaluation(console, ev, before)
    if json_path is not None:
    
        console.print(f"JSON written to {escape(str(json_path))}")


def _evaluate_run(area: Any, data_dir: Path | None, network: Path | None, cell_size_m: float,
                  claims: Path | None, sensitivity: bool, scenario: Path | None,
                  datum: str | None, step: Callable[[str], None],
                  extras: dict[str, Any] | None = None) -> tuple[Any, Any, dict]:
    # reason for 9 parameters: the evaluate command's options, passed through unchanged
    """Evaluate (before and after a scenario when one is given): (before, after, JSON payload)."""
    from geo.claims.context import StudyContext
    from geo.claims.evaluate import evaluate_area

    step("loading data")
    ctx = StudyContext(area, data_dir=_data_dir(data_dir), network_path=network,
                       cell_size_m=cell_size_m, **(extras or {}))
    if scenario is None:
        ev = evaluate_area(area, claims_path=claims, context=ctx, sensitivity=sensitivity,
                           progress=step)
        return None, ev, ev.to_dict()
    import pandas as pd

    from geo.scenarios import check_removals, compare, load_scenario

    ref = pd.concat([ctx.facilities(k) for k in ("rail_station", "fire_station", "park",
                                                    "school")], ignore_index=True)
    scen = load_scenario(scenario, datum=datum, area=ctx.area, osm_reference=ref)
    check_removals(scen, lambda k: ctx.facilities(k, reach_m=ctx.coverage_reach_m(k)))
    before = evaluate_area(area, claims_path=claims, context=ctx, sensitivity=sensitivity,
                           progress=lambda cid: step(f"{cid} (before the scenario)"))
    ctx_after = StudyContext(ctx.area, data_dir=ctx.data_dir, network_path=network,
                             cell_size_m=cell_size_m, scenario=scen, osm=ctx.osm,
                             **(extras or {}))
    ev = evaluate_area(area, claims_path=claims, context=ctx_after, sensitivity=sensitivity,
                       scenario=scen, progress=lambda cid: step(f"{cid} (with the scenario)"))
    return before, ev, compare(before, ev)


def _print_evaluation(console: Any, ev: Any, before: Any = None) -> None:
    """The evaluate table and its notes, in words (the JSON keeps the machine values)."""
    from rich.table import Table

    from geo.claims.metrics import REGISTRY
    from geo.format import fmt_date, fmt_value, method_words, verdict_words

    a = ev.area
    date = ev.data.get("osm_data_date")
    table = Table(title=escape(f"{a['name']} ({a['name_en']}): plan claims vs OSM"
                               + (f" of {fmt_date(date)}" if date else "")))
    for col in ("id", "claim", "target", "measured", "method", "verdict", "robust"):
        table.add_column(col, overflow="fold")
    before_by_id = {c.claim.id: c for c in before.claims} if before is not None else {}
    for c in ev.claims:
        t = c.claim.target
        target = ("no gaps" if t.comparator == "eliminate" else
                  "no number (measured)" if t.comparator == "measure" else
                  f"{t.comparator} {fmt_value(t.value, t.unit)}")
        measured = fmt_value(c.value, c.unit)
        if c.claim.id in before_by_id:
            measured = f"{fmt_value(before_by_id[c.claim.id].value, c.unit)} -> {measured}"
        if c.value is not None:
            measured += REGISTRY[c.claim.metric].measured_label
        style = _VERDICT_STYLE.get(c.verdict, "")
        table.add_row(escape(c.claim.id), escape(c.claim.title_zh), escape(target),
                      escape(measured), escape(method_words(c.method) if c.method else "-"),
                      f"[{style}]{escape(verdict_words(c.verdict))}[/]",
                      "yes" if c.robust else "no")
    console.print(table)
    from geo.format import prose
    from geo.report.html import fetch_area_name

    where = fetch_area_name(ev.area)
    for c in ev.claims:
        if c.verdict == "inconclusive" and c.notes:
            console.print(f"{escape(c.claim.id)}: {escape(cli_words(prose(c.notes[0], fetch_area=where)))}")
    for s in ev.data.get("claims_skipped", []):
        console.print(f"{escape(s['id'])} skipped: {escape(cli_words(prose(s['reason'])))}")
    for n in ev.data.get("network_notes", []):
        console.print(f"road network: {escape(cli_words(prose(n, fetch_area=where)))}")
    console.print(escape(_inputs_line(ev.data, ev.parameters.get("cell_size_m"))))
    console.print("© OpenStreetMap contributors; WorldPop (www.worldpop.org)")


# --------------------------------------------------------------------------- geo report

@app.command("report")
def report(
    area: Annotated[str, typer.Option("--area", help="Study area: a Beijing district "
                                      "(tongzhou / 通州区), a GeoJSON polygon file, or beijing "
                                      "(all 16 districts, one report each).")],
    out: Annotated[Path | None, typer.Option("--out", help="Report folder (default "
                                                "out/<area>).")] = None,
    jobs: Annotated[int, typer.Option("--jobs", help="Districts evaluated in parallel "
                                      "processes (beijing).")] = 1,
    force: Annotated[bool, typer.Option("--force", help="Evaluate districts again even when "
                                        "a complete report exists (beijing).")] = False,
    dask: Annotated[str | None, typer.Option("--dask", help="Send the district tasks to "
                                                "this dask.distributed scheduler "
                                                "(tcp://host:port).")] = None,
    tiles: Annotated[str, typer.Option("--tiles", help="Map background: osm, cartodb, none, "
                                       "gaode, tencent, tianditu.")] = "osm",
    tiles_key: Annotated[str | None, typer.Option("--tiles-key", help="API key for "
                                                     "Tianditu tiles.")] = None,
    cdn: Annotated[bool, typer.Option("--cdn", help="Maps load Leaflet & co. from CDNs "
                                      "(smaller files, need internet).")] = False,
    no_maps: Annotated[bool, typer.Option("--no-maps", help="Tables and charts only.")] = False,
    data_dir: DataDirOption = None,
    network: Annotated[Path | None, typer.Option("--network", help="OSM PBF/XML file with "
                                                    "roads for walk/drive networks.")] = None,
    claims: Annotated[Path | None, typer.Option("--claims", help="Claim file (TOML); "
                                                   "default: the packaged Tongzhou "
                                                   "claims.")] = None,
    cell_size_m: Annotated[float, typer.Option("--cell-size-m", help="Demand hex cell width "
                                               "(m), also for --site.")] = CELL_SIZE_M,
    site_specs: Annotated[list[str] | None, typer.Option("--site", help="Add proposed sites "
                          "for a claim, CLAIM:N (e.g. C04:6; repeatable).")] = None,
    site_cell_size_m: Annotated[float | None, typer.Option("--site-cell-size-m", hidden=True,
                                help="Cell width (m) for --site (default: --cell-size-m, so "
                                "the siting starts from the evaluated numbers).")] = None,
    no_sensitivity: Annotated[bool, typer.Option("--no-sensitivity", help="Skip the "
                                                 "sensitivity variants.")] = False,
    built_up: BuiltUpOption = None,
    reference: ReferenceOption = None,
    datum: Annotated[str | None, typer.Option("--datum", help="Datum of --reference points "
                     "when the file does not declare one: wgs84, gcj02 or bd09.")] = None,
    jobs_layer: JobsLayerOption = None,
    jobs_count_column: JobsCountOption = None,
) -> None:
    # reason for the long parameter list: one parameter per command-line option (typer)
    """Write the HTML report (claims, maps, charts, tables, JSON, GeoParquet) for an area, or
    for every Beijing district with --area beijing; print where index.html is."""
    from geo import validate
    from geo.areas import BEIJING_NAMES
    from geo.errors import DataError
    from geo.report.batch import area_slug
    from geo.report.options import ReportOptions

    validate.check_number("--jobs", jobs, validate.JOBS)
    validate.check_number("--cell-size-m", cell_size_m, validate.CELL_SIZE_M)
    if site_specs and site_cell_size_m is not None:
        validate.check_number("--site-cell-size-m", site_cell_size_m,
                              validate.SITE_CELL_SIZE_M)
    if dask is not None:
        validate.check_url(dask, what="--dask", schemes=("tcp", "tls", "ws", "wss", "ucx"),
                           example="tcp://127.0.0.1:8786")
    opts = ReportOptions(data_dir=_data_dir(data_dir), claims_path=claims,
                         network_path=network, cell_size_m=cell_size_m,
                         sensitivity=not no_sensitivity, tiles=tiles, tiles_key=tiles_key,
                         cdn=cdn, maps=not no_maps, built_up=built_up, reference=reference,
                         datum=datum, jobs_layer=jobs_layer,
                         jobs_count_column=jobs_count_column).check()
    is_batch = area.strip().lower() in BEIJING_NAMES
    out_dir = out if out is not None else Path("out") / ("beijing" if is_batch else
                                                         area_slug(area))
    if is_batch and site_specs:
        raise DataError("--site works with one area (e.g. --area tongzhou), not the Beijing "
                        "batch")
    if is_batch:
        _report_batch(out_dir, opts, jobs=jobs, force=force, dask=dask)
        return
    if site_cell_size_m is not None and not site_cell_size_m > 0:
        raise DataError(f"--site-cell-size-m {site_cell_size_m:g}: expected a cell width > 0 "
                        "metres")
    _report_area(area, out_dir, opts, site_specs or [], site_cell_size_m)


def _report_batch(out_dir: Path, opts: Any, *, jobs: int, force: bool,
                  dask: str | None) -> None:
    """``geo report --area beijing``: every district, then the comparison page."""
    from geo.errors import DataError
    from geo.report.batch import check_batch_dir, run_batch

    check_batch_dir(out_dir)
    with _progress("Beijing districts") as step:
        def progress(res: Any, done: int, total: int) -> None:
            step(f"{done}/{total} {res.name} {res.status}")

        summary = run_batch(None, out_dir, opts, jobs=jobs, force=force, dask_address=dask,
                            progress=progress)
    for d in summary.districts:
        note = f": {d.error}" if d.error else ""
        _echo(f"{d.slug:<12} {d.status:<7} {d.wall_time_s:7.1f} s{note}")
    _echo(f"{summary.count('ok')} evaluated, {summary.count('reused')} reused, "
               f"{summary.count('failed')} failed in {summary.wall_time_s:.1f} s "
               f"({summary.executor})")
    _echo(f"report: {summary.index}")
    if summary.failed:
        first = summary.failed[0]
        raise DataError(f"{len(summary.failed)} of {len(summary.districts)} districts "
                        f"failed (first: {first.slug}: {first.error}); see "
                        f"{out_dir / 'summary.csv'}")


def _report_area(area: str, out_dir: Path, opts: Any, site_specs: list[str],
                 site_cell_size_m: float | None) -> None:
    """``geo report --area X``: evaluate, site what ``--site`` asks, write the report.

    The siting reuses the evaluation's study context (same cells) unless another cell size
    is asked for, so "Closing the gap" starts from the number the claim card shows.
    """
    from geo.claims.context import StudyContext
    from geo.claims.evaluate import evaluate_area
    from geo.claims.registry import load_claims
    from geo.report.html import check_out_dir, write_report

    check_out_dir(out_dir)
    all_claims = load_claims(opts.claims_path)
    wanted_sites = _parse_site_specs(site_specs, all_claims)
    from geo.areas import get_area

    the_area = get_area(area, data_dir=opts.data_dir)   # a bad name fails before any progress
    with _progress(f"report {the_area.name_en}") as step:
        step("loading data")
        ctx = StudyContext(the_area, data_dir=opts.data_dir, network_path=opts.network_path,
                           cell_size_m=opts.cell_size_m, **opts.context_kwargs())
        ev = evaluate_area(ctx.area, claims_path=opts.claims_path, context=ctx,
                           sensitivity=opts.sensitivity, progress=step)
        sitings = []
        if wanted_sites:
            sitings = _sitings(ctx, wanted_sites, site_cell_size_m, opts, step)
        step("writing the report")
        index = write_report(ev, out_dir, opts, area_geometry=ctx.area, sitings=sitings,
                             progress=step)
    from geo.format import verdict_words

    for c in ev.claims:
        _echo(f"{c.claim.id:<5} {verdict_words(c.verdict):<12} {c.claim.title_en}")
    _echo(f"report: {index}")


def _sitings(ctx: Any, wanted: list, cell_size_m: float | None, opts: Any,
             step: Callable[[str], None]) -> list:
    """Close the gap of each ``(claim, n)`` in ``wanted``: :class:`geo.report.sites.Siting`s."""
    from geo.claims.context import StudyContext
    from geo.claims.gap import close_gap
    from geo.report.sites import Siting

    sctx = ctx
    if cell_size_m is not None and cell_size_m != ctx.cell_size_m:
        sctx = StudyContext(ctx.area, data_dir=opts.data_dir, network_path=opts.network_path,
                            cell_size_m=cell_size_m, osm=ctx.osm, **opts.context_kwargs())
    towns = _towns_or_none(sctx)
    out = []
    for claim, n in wanted:
        step(f"siting {claim.id} (+{n})")
        res, model = close_gap(sctx, claim, add=n)
        out.append(Siting(res, model, sctx.cells(), towns))
    return out


# ------------------------------------------------------------------ geo site

def _parse_site_specs(specs: list[str], claims: list) -> list:
    """``["C04:6", ...]`` -> [(Claim, 6), ...]; one-line errors for bad specs."""
    from geo.errors import ClaimSpecError

    by_id = {c.id: c for c in claims}
    out = []
    for spec in specs:
        cid, _, n = spec.partition(":")
        if cid not in by_id:
            raise ClaimSpecError(f"--site {spec}: claim {cid!r} is not in the claim file; "
                                 f"known: {', '.join(by_id)}")
        if not n.isdigit() or int(n) < 1:
            raise ClaimSpecError(f"--site {spec}: expected CLAIM:N with N >= 1 new sites, "
                                 "e.g. C04:6")
        out.append((by_id[cid], int(n)))
    return out


@app.command("site")
def site(
    claim_id: Annotated[str, typer.Option("--claim", help="Coverage claim to close the gap of "
                        "(C01 stations, C03 parks, C04 fire stations).")],
    area: Annotated[str, typer.Option("--area", help="Study area.")] = "tongzhou",
    add: Annotated[int | None, typer.Option("--add", help="Choose this many new sites "
                   "(maximal covering).")] = None,
    target: Annotated[float | None, typer.Option("--target", help="Instead: fewest sites "
                      "reaching this covered share, e.g. 1.0 (set covering).")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the result (JSON) "
                         "here.")] = None,
    geojson: Annotated[Path | None, typer.Option("--geojson", help="Write the proposed "
                       "sites (GeoJSON, WGS84) here.")] = None,
    map_path: Annotated[Path | None, typer.Option("--map", help="Write a map (HTML) of the "
                        "sites and the coverage after them here.")] = None,
    radius_m: Annotated[float | None, typer.Option("--radius-m", help="C03: service radius "
                        "of a new park (default: the smallest tier, a pocket park).")] = None,
    network: Annotated[Path | None, typer.Option("--network", help="OSM PBF/XML with "
                       "roads.")] = None,
    cell_size_m: Annotated[float, typer.Option("--cell-size-m", help="Demand cell width (m); "
                           "also the candidate spacing.")] = CELL_SIZE_M,
    claims: Annotated[Path | None, typer.Option("--claims", help="Claim file.")] = None,
    time_limit_s: Annotated[float, typer.Option("--time-limit-s", help="Solver time limit (s); "
                            "the best solution found is reported, marked not proven.")] = 60.0,
    built_up: BuiltUpOption = None,
    jobs_layer: JobsLayerOption = None,
    jobs_count_column: JobsCountOption = None,
    data_dir: DataDirOption = None,
) -> None:
    # reason for the long parameter list: one parameter per command-line option (typer)
    """Propose new facility sites that close a coverage claim's gap (exact MCLP / set cover)."""
    import json

    from geo import io, validate
    from geo.claims.context import StudyContext
    from geo.claims.gap import close_gap
    from geo.claims.registry import load_claims
    from geo.errors import ClaimSpecError

    if add is not None and add < 1:
        raise typer.BadParameter("must be >= 1", param_hint="--add")
    if target is not None:
        validate.check_number("--target", target, validate.TARGET_SHARE)
    if radius_m is not None:
        validate.check_number("--radius-m", radius_m, validate.RADIUS_M)
    validate.check_number("--cell-size-m", cell_size_m, validate.CELL_SIZE_M)
    validate.check_number("--time-limit-s", time_limit_s, validate.TIME_LIMIT_S)
    outputs = {"--json": json_path, "--geojson": geojson, "--map": map_path}
    io.check_outputs(outputs)  # before any work
    by_id = {c.id: c for c in load_claims(claims)}
    if claim_id not in by_id:
        raise ClaimSpecError(f"claim {claim_id!r} is not in the claim file; known: "
                             f"{', '.join(by_id)}")
    claim = by_id[claim_id]
    from geo.claims.context import study_inputs

    # the study's own inputs: the claim's extent and its weights (residents + jobs)
    extras = study_inputs(built_up=built_up, jobs=jobs_layer,
                          jobs_count_column=jobs_count_column)
    ctx = StudyContext(area, data_dir=_data_dir(data_dir), network_path=network,
                       cell_size_m=cell_size_m, **extras)
    goal = f"+{add}" if add is not None else f"reach {target:.0%}"
    with _progress(f"siting {claim.id}") as step:
        step(f"measuring {claim.id} and solving ({goal}; time limit {time_limit_s:g} s)")
        result, model = close_gap(ctx, claim, add=add, target_share=target, radius_m=radius_m,
                                  time_limit_s=time_limit_s)
        step("naming streets/towns")
        towns = _towns_or_none(ctx)
    with io.staged_files(outputs) as tmp:  # all outputs or none
        if geojson is not None:
            result.to_geojson(tmp["--geojson"])
        if json_path is not None:
            tmp["--json"].write_text(json.dumps({"model": model,
                                                 "population_source": ctx.population_source(),
                                                 **result.summary()},
                                                ensure_ascii=False, indent=2) + "\n",
                                     encoding="utf-8")
        if map_path is not None:
            from geo.maps import save_map, sites_map

            save_map(sites_map(ctx.area.geometry, ctx.cells(), result,
                               title=f"{claim.id} {claim.title_zh}: {result.n_sites} proposed "
                                     f"sites", existing=_claim_facilities(ctx, claim)),
                     tmp["--map"])
    _print_sites(claim, result, model, towns, ctx.population_source())


def _claim_facilities(ctx: Any, claim: Any) -> Any:
    """The claim's existing facilities as its evaluation draws them (markers on a sites map),
    or ``None`` when the evaluation has no map layers."""
    from geo.claims.evaluate import measure_claim

    layers = measure_claim(ctx, claim, detail=True).layers
    return None if layers is None else layers.facilities


def _towns_or_none(ctx: Any) -> Any:
    """The area's streets/towns (admin level 8), or ``None`` (logged) when the layer is missing."""
    from geo.areas import townships
    from geo.errors import DataNotFoundError

    try:
        return townships(ctx.area, data_dir=ctx.data_dir)
    except DataNotFoundError as exc:
        log.warning("sites are not named by street/town: %s", exc)
        return None


def _print_sites(claim: Any, result: Any, model: dict[str, Any], towns: Any,
                 population_text: str) -> None:
    """The siting table and summary, in words; each warning once."""
    from rich.table import Table

    from geo.report.sites import SITE_COLUMNS, model_words, site_rows, sites_headline

    console = _console()
    table = Table(title=escape(f"{claim.id} {claim.title_zh}: {result.n_sites} proposed "
                               f"sites ({model_words(model)})"))
    for col in SITE_COLUMNS:
        table.add_column(col, justify="left" if col == "street / town" else "right")
    for row in site_rows(result, towns):
        table.add_row(*(escape(c) for c in row))
    console.print(table)
    console.print(f"{escape(sites_headline(result, model))} "
                  f"({result.covered_before:,.0f} -> {result.covered_after:,.0f}); solver "
                  f"{escape(result.solver)}, "
                  f"{'proven optimal' if result.proven_optimal else 'NOT proven optimal'}, "
                  f"{result.time_s:.1f} s")
    from geo.format import fmt_cell_size

    console.print(f"demand: {fmt_cell_size(model.get('cell_size_m'))}; population: "
                  f"{escape(population_text)}")
    for w in result.warnings:
        if w not in _ONCE.seen:   # geo.siting logged most of them already
            console.print(f"warning: {escape(cli_words(w))}")
    console.print("© OpenStreetMap contributors; WorldPop (www.worldpop.org)")
