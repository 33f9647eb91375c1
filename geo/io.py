"""All file and folder writing: temp file + rename, staged folder swap, permissions, output checks.

A crash or Ctrl-C leaves either the old file (folder) or the new one, never half of one. Outputs
are checked before any work starts (:func:`check_output`); several files asked for by one command
are committed together (:func:`staged_files`); a folder is replaced only when every file in it,
at every depth, is listed in the manifest of its ``.geo-report`` marker (:func:`is_toolkit_folder`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from geo.errors import OutputError

log = logging.getLogger(__name__)

#: Name of the marker file a toolkit-written folder carries (JSON with a ``files`` manifest).
MARKER = ".geo-report"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto ``path`` on success.

    The folder is created if needed. On any exception the temporary file is removed and the
    target is left untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if tmp.is_file():  # mkstemp makes 0600 files; give the usual umask-based mode
            tmp.chmod(0o666 & ~current_umask())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def current_umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def default_permissions(path: str | os.PathLike[str], *, recursive: bool = False) -> Path:
    """Give ``path`` (and with ``recursive`` everything below it) the permissions a plain
    ``open``/``mkdir`` would per the umask: temporary files and folders are created private
    (0600/0700), while reports and unpacked data are meant to be shared."""
    p = Path(path)
    mask = current_umask()
    todo = [p, *(p.rglob("*") if recursive and p.is_dir() else ())]
    for q in todo:
        if q.is_symlink():
            continue
        os.chmod(q, (0o777 if q.is_dir() else 0o666) & ~mask)
    return p


# --------------------------------------------------------------------------- output checks

def check_output(path: str | os.PathLike[str], *, kind: str = "file", what: str = "output") -> Path:
    """Check, before any work, that ``path`` can be written as a ``kind`` ("file" or "folder").

    Refuses (:class:`~geo.errors.OutputError`, one line naming ``what``, the problem and the fix):
    a folder where a file is due or the reverse, a parent that is a file, no write permission,
    a name longer than the file system allows. Nothing is created.
    """
    if kind not in ("file", "folder"):
        raise ValueError(f"kind must be 'file' or 'folder', not {kind!r}")
    p = Path(path)
    if not str(path).strip():
        raise OutputError(f"{what}: empty path: give a file or folder name")
    if any(len(part.encode()) > 255 for part in p.parts):
        raise OutputError(f"{what} {str(p)[:80]}...: a path component is longer than 255 bytes: "
                          "choose a shorter name")
    if p.exists() or p.is_symlink():
        if kind == "file" and p.is_dir():
            raise OutputError(f"{what} {p} is a folder: give a file name, e.g. {p / 'out'}")
        if kind == "folder" and not p.is_dir():
            raise OutputError(f"{what} {p} is a file: give a folder (a new or empty one)")
        if not os.access(p, os.W_OK):
            raise OutputError(f"{what} {p} is not writable: choose a place you can write to")
    parent = p.absolute().parent
    while not parent.exists():
        if parent.is_symlink():
            raise OutputError(f"{what} {p}: {parent} is a broken link: fix it or choose another "
                              "place")
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"{what} {p}: {parent} is a file, not a folder: choose another place")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{what} {p}: folder {parent} is not writable: choose a place you can "
                          "write to")
    return p


def check_outputs(paths: Mapping[str, str | os.PathLike[str] | None]) -> dict[str, Path]:
    """:func:`check_output` for several output files (label -> path, ``None`` = not asked
    for), and no two the same file; return the asked-for ones as Paths."""
    targets = {k: Path(v) for k, v in paths.items() if v is not None}
    seen: dict[Path, str] = {}
    for label, target in targets.items():
        check_output(target, kind="file", what=label)
        key = target.absolute()
        if key in seen:
            raise OutputError(f"{label} and {seen[key]} are the same file {target}: give each "
                              "output its own name")
        seen[key] = label
    return targets


def _tmp_beside(target: Path) -> Path:
    """A fresh hidden name beside ``target`` that keeps its suffix (writers pick formats by it)."""
    return target.with_name(f".{target.stem[:80]}.{uuid.uuid4().hex[:8]}.tmp{target.suffix}")


@contextlib.contextmanager
def staged_files(paths: Mapping[str, str | os.PathLike[str] | None]) -> Iterator[dict[str, Path]]:
    """Stage several output files and commit them together: all or nothing.

    ``paths`` maps a label to a target (``None`` = not asked for). Every target is checked with
    :func:`check_output` first; the body writes to the yielded temporary paths; only when it
    completes are they renamed onto the targets. On any exception every temporary file is
    removed and no target is touched.
    """
    targets = check_outputs(paths)
    tmps = {k: _tmp_beside(t) for k, t in targets.items()}
    try:
        for t in targets.values():
            t.parent.mkdir(parents=True, exist_ok=True)
        yield tmps
        for label, tmp in tmps.items():
            if not tmp.exists():
                raise OutputError(f"{label}: nothing was written to {targets[label]}")
        for label, tmp in tmps.items():
            default_permissions(tmp, recursive=True)
            os.replace(tmp, targets[label])
    finally:
        for tmp in tmps.values():
            if tmp.is_dir() and not tmp.is_symlink():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()


# --------------------------------------------------------------------------- toolkit folders

def folder_files(folder: str | os.PathLike[str]) -> list[str]:
    """Every file and link below ``folder`` at every depth, as sorted POSIX relative paths
    (folders themselves are not listed; the marker is)."""
    root = Path(folder)
    out = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(dirpath)
        for name in filenames + [d for d in dirnames if (base / d).is_symlink()]:
            out.append((base / name).relative_to(root).as_posix())
    return sorted(out)


def write_marker(folder: str | os.PathLike[str], info: dict[str, Any]) -> Path:
    """Write the ``.geo-report`` marker into ``folder``: ``info`` plus ``files``, the manifest of
    every file the toolkit wrote there (call it last, when the folder is complete)."""
    root = Path(folder)
    files = [f for f in folder_files(root) if f != MARKER]
    doc = {**info, "files": files}
    (root / MARKER).write_text(json.dumps(doc, ensure_ascii=False, sort_keys=True, indent=1)
                               + "\n", encoding="utf-8")
    return root / MARKER


def read_marker(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The marker of a toolkit folder as a dict, or ``None`` when absent or unreadable."""
    p = Path(folder) / MARKER
    try:
        if not p.is_file() or p.is_symlink() or p.stat().st_size > 10_000_000:
            return None
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return doc if isinstance(doc, dict) else None


def is_toolkit_folder(folder: str | os.PathLike[str], *, allow_dirs: Any = None) -> bool:
    """True when ``folder`` may be replaced or cleaned: it carries a readable marker whose
    ``files`` manifest lists every file in it at every depth (a user's file anywhere, or a
    marker without manifest, makes it False). ``allow_dirs(path)`` may accept whole
    sub-folders (a batch's district reports, checked on their own)."""
    root = Path(folder)
    marker = read_marker(root)
    if marker is None or not isinstance(marker.get("files"), list):
        return False
    listed = {f for f in marker["files"] if isinstance(f, str)} | {MARKER}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(dirpath)
        if allow_dirs is not None:
            keep = []
            for d in dirnames:
                sub = base / d
                if not sub.is_symlink() and allow_dirs(sub):
                    continue
                keep.append(d)
            dirnames[:] = keep
        for name in filenames + [d for d in dirnames if (base / d).is_symlink()]:
            if (base / name).relative_to(root).as_posix() not in listed:
                return False
    return True


def is_empty_folder(folder: str | os.PathLike[str]) -> bool:
    p = Path(folder)
    return p.is_dir() and not p.is_symlink() and not any(p.iterdir())


@contextlib.contextmanager
def staged_dir(out_dir: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty hidden folder beside ``out_dir``; on success it replaces ``out_dir``.

    The caller must have checked that ``out_dir`` is new, empty or a toolkit folder. On any
    exception (Ctrl-C included) the staging folder is removed and ``out_dir`` is left as it
    was. The swap is two renames; if interrupted between them the old folder is put back. The
    committed folder gets umask permissions (staging folders are created 0700).
    """
    target = Path(out_dir).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name[:80]}.tmp-", dir=target.parent))
    try:
        yield tmp
        default_permissions(tmp)
        old = None
        if target.exists():
            old = target.with_name(f".{target.name[:80]}.old-{uuid.uuid4().hex[:8]}")
            os.replace(target, old)
        try:
            os.replace(tmp, target)
        except BaseException:
            if old is not None and not target.exists():
                os.replace(old, target)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 text atomically; return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write bytes atomically; return the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as indented UTF-8 JSON (non-ASCII kept readable) atomically."""
    return write_text(path, json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False) + "\n")


#: First characters that make a spreadsheet (Excel, WPS, LibreOffice) read a CSV cell as a
#: formula, which can fetch URLs or run commands: CSV injection.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(frame: Any) -> Any:
    """A copy of the pandas ``frame`` for CSV whose text cannot run as a spreadsheet formula:
    text starting with one of :data:`FORMULA_START` gets a leading apostrophe (OWASP's advice;
    spreadsheets hide it), unless the whole text is a plain number such as ``-5.2``. Numbers
    and other columns are unchanged. Names come from OSM and claim files, which anyone can
    write."""
    import pandas as pd

    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = [_cell_safe(v) for v in out[col].tolist()]
    return out


def _cell_safe(value: Any) -> Any:
    if not isinstance(value, str) or not value.startswith(FORMULA_START):
        return value
    try:
        float(value)
    except ValueError:
        return "'" + value
    return value
