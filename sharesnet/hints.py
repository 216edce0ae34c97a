""""Did you mean" hints for unknown names and keys, one wording across the project."""
from __future__ import annotations

import difflib
from typing import Iterable


def close_match(word: object, known: Iterable[object]) -> str | None:
    """The known name closest to `word`, if any is close."""
    hits = difflib.get_close_matches(str(word), [str(k) for k in known], n=1)
    return hits[0] if hits else None


def did_you_mean(word: object, known: Iterable[object], what: str = "known keys") -> str:
    """`did you mean 'x'?` when a known name is close, else the list of known names."""
    known = list(known)
    hit = close_match(word, known)
    return f"did you mean '{hit}'?" if hit else f"{what}: {', '.join(map(str, known))}"


def maybe_did_you_mean(word: object, known: Iterable[object]) -> str:
    """`; did you mean 'x'?` when a known name is close, else nothing."""
    hit = close_match(word, known)
    return f"; did you mean '{hit}'?" if hit else ""
