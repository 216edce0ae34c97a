""""Did you mean" hints for unknown names and keys, one wording across the project."""
from __future__ import annotations

import difflib
import re
from typing import Iterable

MIN_CONTAINED = 3  # shorter words ('a', 'lr') are inside too many names to point at one


def close_match(word: object, known: Iterable[object]) -> str | None:
    """The known name closest to `word`, if any is close.

    A known name that contains the word wins over a merely similar one: `resnet20` means
    `cifar_resnet20`, though difflib alone finds `resnet18` closer by edit ratio.
    """
    text, names = str(word), [str(k) for k in known]
    spelled = [n for n in names if _spelling(n) == _spelling(text)]
    if len(spelled) == 1:  # `nsgaii`, `NSGA-II`, `Fast`: the same name written another way
        return spelled[0]
    holders = [n for n in names if len(text) >= MIN_CONTAINED and text.lower() in n.lower()]
    if holders:
        return max(holders, key=lambda n: (difflib.SequenceMatcher(None, text, n).ratio(), -len(n)))
    hits = difflib.get_close_matches(text, names, n=1)
    return hits[0] if hits else None


def _spelling(name: str) -> str:
    """A name without case, separators or Roman numerals: `NSGA-II` -> `nsga2`. Edit distance alone
    ties `nsgaii` between nsga2 and nsga3, and difflib breaks ties towards the later name."""
    text = re.sub(r"[\s_\-.]", "", name.lower())
    return re.sub(r"(?<=[a-z])(iii|ii|iv)$", lambda m: {"ii": "2", "iii": "3", "iv": "4"}[m.group(1)], text)


def did_you_mean(word: object, known: Iterable[object], what: str = "known keys") -> str:
    """`did you mean 'x'?` when a known name is close, else the list of known names."""
    known = list(known)
    hit = close_match(word, known)
    return f"did you mean '{hit}'?" if hit else f"{what}: {', '.join(map(str, known))}"


def maybe_did_you_mean(word: object, known: Iterable[object]) -> str:
    """`; did you mean 'x'?` when a known name is close, else nothing."""
    hit = close_match(word, known)
    return f"; did you mean '{hit}'?" if hit else ""


def did_you_mean_aside(word: object, known: Iterable[object]) -> str:
    """` (did you mean 'x'?)` when a known name is close, else nothing: for the end of a message."""
    hit = close_match(word, known)
    return f" (did you mean '{hit}'?)" if hit else ""
