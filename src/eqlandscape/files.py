"""Result directories: checked before a run, written as a whole.

A run writes its files (``students.csv``, ``summary.json``, ...) into one output directory. The
directory is checked before any training (:func:`check_output_dir`): it must be a directory that
exists and holds nothing, or only an earlier run's results, or a path that can be created. The
files are then written into a fresh temporary directory beside it, which replaces the output
directory in one rename (:func:`write_result_dir`): the files of two runs are never mixed, and a
failed or interrupted write leaves the earlier results as they were and no temporary directory
(one killed outright leaves a hidden ``.<name>.tmp-*`` directory that no run reads).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from eqlandscape.errors import OutputDirError

RESULT_FILES = frozenset(
    {"students.csv", "summary.json", "loss_curves.png", "slice.json", "slice.png"}
    | {"compare.csv", "compare.png", "escape.csv", "escape.png"}
    | {"hessian.json", "hessian.png"}
    | {"dynamics.png"}
)
"""The names of the files that eqlandscape writes into an output directory."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_output_dir(path: Path | str, *, force: bool = False, what: str = "--out") -> Path:
    """``path`` as a :class:`Path` if a run may write its results there, else :class:`OutputDirError`
    naming it: an empty name, a path that is not a directory, one that cannot be created (its
    nearest existing ancestor is not a writable directory), a directory holding files that are not
    eqlandscape results (never written into), or one holding an earlier run's results without
    ``force`` (which replaces them as a whole)."""
    if not str(path).strip():
        raise OutputDirError(f"{what} is empty; give a directory for the results")
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise OutputDirError(f"{what} {str(path)!r} exists and is not a directory")
        entries = sorted(p.name for p in path.iterdir())
        foreign = [e for e in entries if e not in RESULT_FILES]
        if foreign:
            shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
            raise OutputDirError(
                f"{what} {str(path)!r} holds files that are not eqlandscape results ({shown}); choose another directory"
            )
        if entries and not force:
            raise OutputDirError(
                f"{what} {str(path)!r} holds the results of an earlier run; pass --force to replace them"
            )
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise OutputDirError(f"{what} {str(path)!r} cannot be replaced: its parent is not writable")
        return path
    ancestor = path.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK | os.X_OK):
        raise OutputDirError(f"{what} {str(path)!r} cannot be created: {str(ancestor)!r} is not a writable directory")
    return path


def write_result_dir(path: Path, files: dict[str, Callable[[Path], None]]) -> dict[str, Path]:
    """Write ``files`` (name -> ``write(target_path)``) into a temporary directory beside ``path``, then
    put it in place of ``path`` (replacing an earlier run's directory as a whole); return the final
    paths. Files get the usual permissions (``0666`` less the umask, so 0644 by default)."""
    unknown = set(files) - RESULT_FILES
    if unknown:
        raise OutputDirError(f"not a result file name: {sorted(unknown)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp-"))
    old: Path | None = None
    umask = _umask()
    try:
        for name, write in files.items():
            write(tmp / name)
            os.chmod(tmp / name, 0o666 & ~umask)
        os.chmod(tmp, 0o777 & ~umask)
        if path.exists():
            old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.old-"))
            os.replace(path, old)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and not path.exists():
            os.replace(old, path)
        raise
    finally:
        if old is not None and old.exists():
            shutil.rmtree(old, ignore_errors=True)
    return {name: path / name for name in files}
