"""Tokens for lexical (BM25) search over Chinese (Simplified and Traditional) and English.

`Tokenizer(mode).tokenize(text)`:

* the text is NFKC-normalized (full-width letters and digits become ASCII) and lower-cased;
* Latin-script words and numbers are word tokens; a decimal number stays whole
  (``3.2``, ``1987``); other punctuation and whitespace are dropped. A Latin word loses its
  accents (``börte`` is ``borte``, ``menéndez`` ``menendez``): people type names without
  them, and OCR drops the letters its dictionary lacks (ö). With `english` (the
  default), English stop words are dropped; with `stemming` too, the other words of ASCII
  letters are stemmed (Snowball, through PyStemmer: ``museums`` and ``museum`` match,
  ``oxidation`` and ``oxidized`` too: BM25_ENGLISH_STEMMING, off by default);
* a run of CJK characters (Han, kana) gives, by `mode`:
    - ``"bigram"``: its overlapping character bigrams (a one-character run: that character);
    - ``"jieba"``: jieba's `cut_for_search` words;
    - ``"jieba+bigram"``: both (a word that is also a bigram counts twice);
    - ``"unigram+bigram"``: every character and every bigram.

Character bigrams need no dictionary, so they work the same for Traditional and Simplified
text; jieba's dictionary is Simplified, and it splits Traditional text less well. Measured by
`scripts/eval_retrieval.py` on the Traditional dev set (DRCD, chunks 250/50, BM25 alone ->
fused with dense): jieba alone hit@1 90.6; bigram 93.2 -> 95.2; unigram+bigram 94.4 -> 95.8;
jieba+bigram 94.0 -> 96.2 (and the best fused MRR at chunk sizes 250 and 400), so
DEFAULT_MODE is "jieba+bigram". The question-word stop list changed nothing measurable.
Costs: a jieba dictionary takes ~1 s and ~70 MB per `Tokenizer` (share one), and jieba cuts
~200k characters/s, against millions for bigrams.

jieba's HMM (which finds words missing from its dictionary) takes time quadratic in the
length of a stretch of characters its dictionary does not split (40,000 repeated rare
characters: 11 s; a 3 MB query: over 15 minutes). A CJK run longer than
`max_jieba_chars` is therefore given to jieba in pieces of at most that many characters, cut
next to a dictionary word of two or more characters where there is one (`jieba_pieces`).
jieba's own route is additive along the run and its HMM only reads the single characters
between such words, so there the pieces give the same words as the whole run; only a stretch
of more than `max_jieba_chars` unsplit characters is cut blindly. `scripts/bench_tokenize.py`
measures it.

Each `Tokenizer` owns its jieba dictionary (`jieba.Tokenizer`, loaded on first use, ~1 s);
nothing here is global. `tokenize` is thread-safe.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal, get_args

TokenizerMode = Literal["bigram", "jieba", "jieba+bigram", "unigram+bigram"]
DEFAULT_MODE: TokenizerMode = "jieba+bigram"
MODES: tuple[str, ...] = get_args(TokenizerMode)
# Longest piece of a CJK run given to jieba at once; the HMM's cost per character grows with
# it. The dev corpus's chunks have no Han run over 64 characters, and its documents stripped
# to one run each are cut the same as whole runs down to 100 (`bench_tokenize.py --check`).
MAX_JIEBA_CHARS = 200

_CJK = (
    "\u3040-\u30ff"  # hiragana, katakana
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\U00020000-\U0003134f"  # CJK extensions B-G
)
_TOKEN_RE = re.compile(
    rf"(?P<cjk>[{_CJK}]+)"
    r"|(?P<number>\d+(?:\.\d+)+)"
    rf"|(?P<word>(?:(?![{_CJK}])[^\W_])+)"
)

QUESTION_STOPWORDS: frozenset[str] = frozenset(
    # Question words, Simplified and Traditional: frequent in questions, rare in documents,
    # so BM25 would give them a high weight for matching nothing relevant.
    [
        "什么",
        "什麼",
        "哪个",
        "哪個",
        "哪些",
        "哪里",
        "哪裡",
        "哪一",
        "哪位",
        "哪年",
        "哪种",
        "哪種",
        "为何",
        "為何",
        "为什么",
        "為什麼",
        "多少",
        "几个",
        "幾個",
        "如何",
        "怎么",
        "怎麼",
        "怎样",
        "怎樣",
        "谁",
        "誰",
        "是否",
        "吗",
        "嗎",
        "呢",
        "何时",
        "何時",
        "何者",
        "何种",
        "何種",
    ]
)


ENGLISH_STOPWORDS: frozenset[str] = frozenset(
    # NLTK's English list: words too frequent to tell documents apart ("the", "of"), and
    # the question words ("what", "which") a question has and its answer rarely does.
    {
        "i", "me", "my", "myself", "we", "our", "ours", "ourselves", "you", "your", "yours",
        "yourself", "yourselves", "he", "him", "his", "himself", "she", "her", "hers", "herself",
        "it", "its", "itself", "they", "them", "their", "theirs", "themselves", "what", "which",
        "who", "whom", "this", "that", "these", "those", "am", "is", "are", "was", "were", "be",
        "been", "being", "have", "has", "had", "having", "do", "does", "did", "doing", "a", "an",
        "the", "and", "but", "if", "or", "because", "as", "until", "while", "of", "at", "by",
        "for", "with", "about", "against", "between", "into", "through", "during", "before",
        "after", "above", "below", "to", "from", "up", "down", "in", "out", "on", "off", "over",
        "under", "again", "further", "then", "once", "here", "there", "when", "where", "why",
        "how", "all", "any", "both", "each", "few", "more", "most", "other", "some", "such", "no",
        "nor", "not", "only", "own", "same", "so", "than", "too", "very", "s", "t", "can", "will",
        "just", "don", "should", "now", "d", "ll", "m", "o", "re", "ve", "y", "ain", "aren",
        "couldn", "didn", "doesn", "hadn", "hasn", "haven", "isn", "ma", "mightn", "mustn",
        "needn", "shan", "shouldn", "wasn", "weren", "won", "wouldn",
    }
)  # fmt: skip


def _english_stemmer() -> Callable[[str], str]:
    """Snowball's English stemmer (PyStemmer's C one: ~2 µs a word)."""
    import Stemmer

    return Stemmer.Stemmer("english").stemWord  # type: ignore[no-any-return]


class Tokenizer:
    """Lexical tokens of a text; `mode` picks how CJK runs are cut (see the module doc)."""

    def __init__(
        self,
        mode: TokenizerMode = DEFAULT_MODE,
        stopwords: frozenset[str] = frozenset(),
        english: bool = True,
        stemming: bool = False,
        max_jieba_chars: int | None = MAX_JIEBA_CHARS,
    ) -> None:
        """`max_jieba_chars`: see the module doc; None gives jieba whole runs (quadratic in
        the worst case; `scripts/bench_tokenize.py` uses it as the baseline)."""
        if mode not in MODES:
            raise ValueError(f"tokenizer mode {mode!r} unknown; valid: {', '.join(MODES)}")
        if max_jieba_chars is not None and max_jieba_chars < 1:
            raise ValueError(f"max_jieba_chars must be at least 1 (got {max_jieba_chars})")
        self.mode: TokenizerMode = mode
        self.stopwords = stopwords
        self.english = english
        """Drop English stop words."""
        self.stemming = english and stemming
        """Also stem English words (Snowball)."""
        self.max_jieba_chars = max_jieba_chars
        self._jieba: Any = None
        self._jieba_lock = threading.Lock()
        self._jieba_owner: Tokenizer = self
        """The tokenizer whose jieba dictionary this one uses (`with_mode`)."""
        self._stem: Callable[[str], str] | None = _english_stemmer() if self.stemming else None

    def with_mode(self, mode: TokenizerMode) -> Tokenizer:
        """This tokenizer cutting CJK runs by `mode`, sharing its jieba dictionary (no second
        one is loaded)."""
        other = Tokenizer(mode, self.stopwords, self.english, self.stemming, self.max_jieba_chars)
        other._jieba_owner = self._jieba_owner
        return other

    @property
    def signature(self) -> str:
        """Identifies what this tokenizer produces: an index built with another is rebuilt."""
        stop = ",".join(sorted(self.stopwords))
        english = ("|en-stop" if self.english else "") + ("|en-snowball" if self.stemming else "")
        return f"v2|{self.mode}|{stop}{english}"

    def __call__(self, text: str) -> list[str]:
        return self.tokenize(text)

    def tokenize(self, text: str) -> list[str]:
        text = unicodedata.normalize("NFKC", text).lower()
        tokens: list[str] = []
        for match in _TOKEN_RE.finditer(text):
            run = match.group("cjk")
            if run is not None:
                tokens.extend(self._cjk_tokens(run))
            elif self.english and match.group("word"):
                tokens.extend(self._english(unaccented(match.group())))
            else:
                tokens.append(unaccented(match.group()))
        if self.stopwords:
            tokens = [token for token in tokens if token not in self.stopwords]
        return tokens

    def _english(self, word: str) -> list[str]:
        if word in ENGLISH_STOPWORDS:
            return []
        if self._stem is None or not word.isascii() or not word.isalpha():
            return [word]
        return [self._stem(word)]

    def _cjk_tokens(self, run: str) -> list[str]:
        mode = self.mode
        tokens: list[str] = []
        if mode in ("jieba", "jieba+bigram"):
            tokens.extend(word for word in self._cut(run) if word.strip())
        if mode == "unigram+bigram":
            tokens.extend(run)
        if mode != "jieba":
            if len(run) == 1:
                if mode == "bigram":
                    tokens.append(run)
            else:
                tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
        return tokens

    def _cut(self, run: str) -> list[str]:
        jieba = self._jieba_tokenizer()
        limit = self.max_jieba_chars
        if limit is None or len(run) <= limit:
            return list(jieba.cut_for_search(run))
        words = []
        for piece in jieba_pieces(run, jieba.cut(run, HMM=False), limit):
            words.extend(jieba.cut_for_search(piece))
        return words

    def _jieba_tokenizer(self) -> Any:
        if self._jieba_owner is not self:
            return self._jieba_owner._jieba_tokenizer()
        with self._jieba_lock:
            if self._jieba is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                tokenizer = jieba.Tokenizer()
                tokenizer.initialize()
                self._jieba = tokenizer
            return self._jieba


def unaccented(word: str) -> str:
    """A Latin word without its accents; any other word (Cyrillic, Greek...) as it is."""
    if word.isascii():
        return word
    folded = "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))
    return folded if folded.isascii() else word


def jieba_pieces(run: str, words: Iterable[str], limit: int) -> Iterator[str]:
    """`run` in pieces of at most `limit` characters, for jieba's HMM cut.

    `words` is jieba's dictionary-only cut of `run` (no HMM; linear time). A piece ends next
    to a word of two or more characters, where jieba flushes the single characters its HMM
    reads, so the HMM cut of the pieces equals that of the whole run; a longer stretch of
    single characters is cut every `limit` characters.
    """
    start = safe = position = 0
    for word in words:
        end = position + len(word)
        if len(word) > 1:
            safe = position  # just before a word
        while end - start > limit:
            cut = safe if safe > start else start + limit
            yield run[start:cut]
            start = cut
        if len(word) > 1:
            safe = end  # just after it
        position = end
    if start < len(run):
        yield run[start:]


__all__ = [
    "DEFAULT_MODE",
    "ENGLISH_STOPWORDS",
    "MAX_JIEBA_CHARS",
    "MODES",
    "QUESTION_STOPWORDS",
    "Tokenizer",
    "TokenizerMode",
    "jieba_pieces",
]
