"""Character accuracy of OCR'd text against the text that was printed.

accuracy = 1 - (edit distance) / (characters printed), after NFKC normalisation (a
full-width "：" read as ":" is the same character to a search) and with whitespace removed
(OCR and the printed text break lines and space CJK runs differently; what matters for
search is the characters). Used by the OCR tests and scripts/bench_ocr.py.
"""

from __future__ import annotations

import unicodedata


def comparable(text: str) -> str:
    """`text` NFKC-normalised, without whitespace."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]


def char_accuracy(recognised: str, printed: str) -> float:
    """1 - edit distance / printed characters (module doc); 1.0 for nothing printed and
    nothing read, floored at 0."""
    reference, candidate = comparable(printed), comparable(recognised)
    if not reference:
        return 1.0 if not candidate else 0.0
    return max(0.0, 1.0 - edit_distance(candidate, reference) / len(reference))
