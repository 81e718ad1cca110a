"""Numbers in an answer written as its sources write them.

Small models rewrite the numbers they copy: the 1.5B answered 岳飛派2000人駐守吉州 from a
source saying 派二千人駐守吉州, and 全球第4 for 全球第四. A reader checking the answer against
its source (or a search for the source's words) then finds nothing. Each number in the
answer that the sources do not write that way is replaced by the sources' own number of the
same value, when it stands between the same neighbours there (第4 → 第四 because both follow
第; 2000人 → 二千人 because both precede 人) and the sources write that value only one way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from rag.chains.streams import closing

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "兩": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_DIGITS |= {"六": 6, "七": 7, "八": 8, "九": 9}
_SMALL_UNITS = {"十": 10, "百": 100, "千": 1000}
_LARGE_UNITS = {"萬": 10**4, "万": 10**4, "億": 10**8, "亿": 10**8}
_CHINESE = "".join(_DIGITS) + "".join(_SMALL_UNITS) + "".join(_LARGE_UNITS)
_NUMBER_CHARS = frozenset("0123456789" + _CHINESE)
_ARABIC = re.compile(r"(\d+)([十百千萬万億亿]*)")
_NUMBER_RUN = re.compile(f"[0-9{_CHINESE}]+")
_SEPARATORS = frozenset(".,．")  # 1.5, 2,000: part of a longer number


def number_value(text: str) -> int | None:
    """The value of a number written in Arabic digits (optionally followed by Chinese units:
    2千 = 2000), in Chinese numerals (二千, 一萬二千, 十五) or digit by digit in Chinese
    (一九四三); None when `text` is not one number."""
    if match := _ARABIC.fullmatch(text):
        value = int(match.group(1))
        for unit in match.group(2):
            value *= _SMALL_UNITS.get(unit) or _LARGE_UNITS[unit]
        return value
    if not text or any(char not in _CHINESE for char in text):
        return None
    if not any(char in _DIGITS or char == "十" for char in text):
        return None  # 萬 alone (萬里) is a word, not a number
    if all(char in _DIGITS for char in text):
        return int("".join(str(_DIGITS[char]) for char in text))  # 一九四三
    return _chinese_value(text)


def _chinese_value(text: str) -> int | None:
    total = section = digit = 0
    for char in text:
        if char in _DIGITS:
            digit = _DIGITS[char]
        elif char in _SMALL_UNITS:
            section += (digit or 1) * _SMALL_UNITS[char]
            digit = 0
        else:
            unit = _LARGE_UNITS[char]
            if section + digit == 0:
                return None
            total += (section + digit) * unit
            section = digit = 0
    return total + section + digit


@dataclass(frozen=True)
class _Written:
    text: str
    before: str
    after: str


class NumberWording:
    """Rewrites the numbers of an answer (a stream of pieces) as `sources` write them.

    `sources` is the text the model read; `shown` (aligned with it character by character,
    default: the same) is where the replacement is taken from, so a model that read the
    sources in another script gets the numbers in the script it read them in.
    A number is held back until the character after it arrives.
    """

    def __init__(self, sources: str, shown: str | None = None) -> None:
        shown = sources if shown is None else shown
        if len(shown) != len(sources):
            raise ValueError("sources and shown must be aligned: the same length")
        self._written: dict[int, list[_Written]] = {}
        self._as_written: set[str] = set()
        for match in _NUMBER_RUN.finditer(sources):
            value = number_value(match.group())
            if value is None:
                continue
            start, end = match.span()
            self._as_written.add(match.group())
            self._written.setdefault(value, []).append(
                _Written(shown[start:end], sources[start - 1 : start], sources[end : end + 1])
            )

    def rewrite(self, answer: str) -> str:
        return "".join(self.stream([answer]))

    def stream(self, pieces: Iterable[str]) -> Iterator[str]:
        return closing(pieces, self._rewriting)

    def _rewriting(self, pieces: Iterator[str]) -> Iterator[str]:
        before = ""  # the character before the number being held
        number = ""
        for piece in pieces:
            out: list[str] = []
            for char in piece:
                if char in _NUMBER_CHARS:
                    number += char
                    continue
                if number:
                    out.append(self._as_sources_write(number, before, char))
                    number = ""
                out.append(char)
                before = char
            if text := "".join(out):
                yield text
        if number:
            yield self._as_sources_write(number, before, "")

    def _as_sources_write(self, number: str, before: str, after: str) -> str:
        if number in self._as_written or {before, after} & _SEPARATORS:
            return number  # as the sources write it, or part of 1.5 / 2,000
        value = number_value(number)
        if value is None:
            return number
        forms = {
            written.text
            for written in self._written.get(value, ())
            if (before and written.before == before) or (after and written.after == after)
        }
        return forms.pop() if len(forms) == 1 else number
