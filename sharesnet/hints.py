""""Did you mean" hints for unknown names and keys, one wording across the project."""
from __future__ import annotations

import difflib
from typing import Iterable


MIN_CONTAINED = 3  # shorter words ('a', 'lr') are inside too many names to point at one


def close_match(word: object, known: Iterable[object]) -> str | None:
    """The known name closest to `word`, if any is close.

    A known name that contains the word wins over a merely similar one: `resnet20` means
    `cifar_resnet20`, though difflib alone finds `resnet18` closer by edit ratio.
    """
    text, names = str(word), [str(k) for k in known]
    holders = [n for n in names if len(text) >= MIN_CONTAINED and text.lower() in n.lower()]
    if holders:
        return max(holders, key=lambda n: (difflib.SequenceMatcher(None, text, n).ratio(), -len(n)))
    hits = difflib.get_close_matches(text, names, n=1)
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
