"""Is an answer drawn from its sources? Numbers and names the sources do not hold.

A small model asked about something the documents never mention answers from what it knows
when the sources look close enough: "The first president of Tanzania was Julius Nyerere"
from sources about Kenya. The answerability check (rag/retrieval/answerable.py) cannot
refuse such a question before the model is asked, since the sources are about the same kind
of thing; the answer itself shows it. A number, or a name written in Latin letters, that is
in neither the question nor any source did not come from the documents. Chinese names are
not checked (a name cut into characters cannot be told from other words), nor other words
(a right answer rewords its source). An answer drawn from a source (one holds at least half
of its words, as `cite_sources` decides) stands even with such a number or name: the model
added a detail ("..., which occurred in 1871") to an answer that is the source's.

A question about a work it names in title marks (《千年女王》) that no source names is not
answered from them either, whatever the answer says: the sources are about another work.

A number counts as held when a source or the question has the same value, however written:
"80" against "eighty", "1949" against "一九四九", "12" against "十二", "100000" against "100,000".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from rag.chains.attribution import MIN_SHARED, words
from rag.chains.citations import CITATION
from rag.chains.numbers import number_value
from rag.lexical.tokenize import ENGLISH_STOPWORDS, unaccented

_ARABIC = re.compile(r"\d+(?:[.,]\d+)*")
_CHINESE_NUMBER = re.compile(r"[零〇一二两兩三四五六七八九十百千万萬亿億]+")
_LATIN_WORD = re.compile(r"[A-Za-z\u00c0-\u024f]+(?:['’][A-Za-z]+)*")
_POSSESSIVE = re.compile(r"['’]s$", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[。！？!?；;\n]|\.(?=\s|$)")
_FEW_WORDS = 3
_LATIN_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f]")
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")

_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
_ONES += " fifteen sixteen seventeen eighteen nineteen"
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety"
_ORDINALS = "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth"
NUMBER_WORDS: dict[str, int] = {word: value for value, word in enumerate(_ONES.split())}
NUMBER_WORDS |= {word: 10 * (2 + at) for at, word in enumerate(_TENS.split())}
NUMBER_WORDS |= {word: 1 + at for at, word in enumerate(_ORDINALS.split())}
NUMBER_WORDS |= {"dozen": 12}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9}
_NOT_NAMES = ENGLISH_STOPWORDS | NUMBER_WORDS.keys() | _SCALES.keys()


def _english_values(text: str) -> set[int]:
    """The values of English number words in `text`: "eighty" 80, "twenty-five" 25,
    "two hundred" 200, "five thousand" 5000, "third" 3."""
    values: set[int] = set()
    tokens = re.findall(r"[a-z]+", text.lower())
    total = current = 0
    for word in [*tokens, ""]:
        if word in NUMBER_WORDS:
            current += NUMBER_WORDS[word]
        elif word in _SCALES and (current or total):
            total += max(current, 1) * _SCALES[word]
            current = 0
        elif current or total:
            values.update({total + current, current} - {0})
            total = current = 0
    return values


def number_values(text: str) -> set[str]:
    """Every number `text` writes, in digits, as its value: Arabic ("100,000" and "100000"
    both 100000; "1.5" as it is), Chinese numerals and English number words."""
    found = {match.replace(",", "") for match in _ARABIC.findall(text)}
    for run in _CHINESE_NUMBER.findall(text):
        value = number_value(run)
        if value is not None:
            found.add(str(value))
    return found | {str(value) for value in _english_values(text)}


def _name_key(word: str) -> str:
    return unaccented(_POSSESSIVE.sub("", word)).casefold()


def _words_of(text: str) -> set[str]:
    return {_name_key(word) for word in _LATIN_WORD.findall(text)}


def unsupported_terms(answer: str, evidence: Iterable[str], names: bool = True) -> list[str]:
    """The numbers (written in digits) and, with `names`, the capitalised Latin words of
    `answer` that no text of `evidence` (the question and the sources) holds; its citations
    aside. A capitalised word that begins a sentence is a name only in an answer of a few
    words ("Venera."): elsewhere it may be any word ("Approximately 500 people...")."""
    said = CITATION.sub(" ", answer)
    texts = list(evidence)
    held_numbers = set().union(*(number_values(text) for text in texts))
    missing = [
        number for number in _ARABIC.findall(said) if number.replace(",", "") not in held_numbers
    ]
    if names:
        held_words = set().union(*(_words_of(text) for text in texts))
        missing += [name for name in _names(said) if _name_key(name) not in held_words]
    return missing


def _names(text: str) -> list[str]:
    """The capitalised Latin words of `text` that may be names (see `unsupported_terms`)."""
    words = list(_LATIN_WORD.finditer(text))
    found = []
    for match in words:
        word, key = match.group(), _name_key(match.group())
        if not word[0].isupper() or len(key) < 2 or key in _NOT_NAMES:
            continue
        before = text[: match.start()].rstrip()
        begins = not before or _SENTENCE_END.search(before[-1:])
        if not (begins and len(words) > _FEW_WORDS):
            found.append(word)
    return found


def in_latin_script(texts: Iterable[str]) -> bool:
    """Whether `texts` hold at least as many Latin letters as Chinese characters."""
    joined = "".join(texts)
    return len(_LATIN_LETTER.findall(joined)) >= len(_HAN.findall(joined))


def ungrounded_terms(answer: str, question: str, sources: Sequence[str]) -> list[str]:
    """`unsupported_terms` of an answer that no source holds half of (its words other than
    the question's and English stop words); none for an answer drawn from a source. Names
    only against sources in Latin script: an English answer from Chinese sources writes
    their names in letters ("Ma Biao" for 马飚)."""
    missing = unsupported_terms(answer, [question, *sources], names=in_latin_script(sources))
    own = words(CITATION.sub(" ", answer)) - words(question) - ENGLISH_STOPWORDS
    if missing and own:
        share = max((len(own & words(source)) / len(own) for source in sources), default=0.0)
        if share >= MIN_SHARED:
            return []
    return missing


_TITLE = re.compile(r"《([^《》]+)》")


def unnamed_titles(
    question: str, sources: Sequence[str], fold: Callable[[str], str] = str.casefold
) -> list[str]:
    """The titles `question` names in 《》 that no source names (compared after `fold`, so
    that a Traditional question finds a Simplified source's title)."""
    folded = [fold(source) for source in sources]
    return [
        f"《{title}》"
        for title in _TITLE.findall(question)
        if not any(fold(title) in source for source in folded)
    ]


def first_sentence(text: str) -> str | None:
    """`text` up to the end of its first sentence; None while that sentence has not ended."""
    match = _SENTENCE_END.search(CITATION.sub(_blank, text))
    return None if match is None else text[: match.end()]


def _blank(match: re.Match[str]) -> str:
    """A citation as spaces of its length: "[1]." ends a sentence, "[1]" alone does not."""
    return " " * len(match.group())
