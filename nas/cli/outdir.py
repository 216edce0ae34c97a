"""An output folder is checked before anything expensive starts (Ray, data, training).

A folder that cannot be written used to surface as a traceback after Ray had started and
the data had loaded. Asking the OS itself is the only check that covers every reason it
may refuse (a file in the way, a read-only mount, no permission, a name too long), so the
check creates what is missing, writes a file there, and removes both again: a refused
search leaves no folder behind.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


class OutDirError(ValueError):
    """An output folder this process cannot create or write; one line naming the flag and the OS's reason."""


def check_writable(folder: str | Path, flag: str) -> None:
    """Raise OutDirError unless `folder` exists or can be created, and a file can be written in it.
    `flag` is the option as the user gave it, e.g. `--out results`, which the message starts with."""
    folder = Path(folder)
    for above in (folder, *folder.parents):
        if os.path.lexists(above):
            if not above.is_dir():
                raise OutDirError(f"{flag}: {above} is a file, not a folder; pass a folder path")
            break
    created: list[Path] = []
    try:
        for missing in reversed([p for p in (folder, *folder.parents) if not os.path.lexists(p)]):
            missing.mkdir()
            created.append(missing)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-"):
            pass
    except OSError as e:
        where = e.filename or folder
        raise OutDirError(f"{flag}: cannot write {where} ({e.strerror or e}); pass a folder you "
                          f"can write to") from None
    finally:
        for made in reversed(created):
            try:
                made.rmdir()
            except OSError:  # something else wrote there meanwhile: leave it
                pass
