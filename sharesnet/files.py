"""Result files, written one way for the whole project: atomically (a temporary file beside
the target, then renamed over it), and CSV from dict rows. A reader (or a resumed run) never sees half a file, and a
crash leaves the old file or the new one, nothing in between."""
from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Sequence


def replace_atomically(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Call `write` on a fresh binary file beside `path`, then rename it to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write(path: Path, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    replace_atomically(path, lambda fh: fh.write(text.encode()))


def csv_text(rows: Iterable[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    """CSV of dict rows under `columns` (other keys are left out), or, without columns, under
    every key met, in order of appearance (older result files lack some: their cells stay empty)."""
    rows = list(rows)
    cols = list(columns) if columns is not None else list(dict.fromkeys(k for r in rows for k in r))
    if not cols:
        return ""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, restval="", extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()
