"""Long CJK runs reach jieba in bounded pieces (its HMM is quadratic in a run's length),
and real text is cut exactly as when jieba read whole runs."""

from __future__ import annotations

import re
from typing import Any

import pytest

from rag.lexical.tokenize import Tokenizer, jieba_pieces

# Two paragraphs of real Simplified and Traditional text, punctuation kept.
TEXT = (
    "知库把所有文档集中索引，员工用自然语言提问即可得到带出处的回答。公司内部文档分散在多个"
    "系统中，员工很难快速找到需要的信息。运行启动命令后，在浏览器中打开本地地址即可使用问答"
    "界面。中國科學技術大學原係仿前蘇聯莫斯科物理技術學院而成，於1958年創建於北京；首任校長"
    "為當時的中國科學院院長郭沫若。萊茵河沿線的第二大港口是史特拉斯堡港，每年吞吐貨物上千萬噸。"
)
ONE_RUN = re.sub(r"[^\u4e00-\u9fff]+", "", TEXT)  # the same words as one long run


class _Spy:
    """Records the length of every text given to jieba's HMM cut."""

    def __init__(self, jieba: Any) -> None:
        self.jieba = jieba
        self.lengths: list[int] = []

    def cut_for_search(self, text: str) -> Any:
        self.lengths.append(len(text))
        return self.jieba.cut_for_search(text)

    def cut(self, text: str, HMM: bool = True) -> Any:
        if HMM:
            self.lengths.append(len(text))
        return self.jieba.cut(text, HMM=HMM)


def _spied(tokenizer: Tokenizer) -> _Spy:
    spy = _Spy(tokenizer._jieba_tokenizer())
    tokenizer._jieba = spy
    return spy


def test_jieba_reads_a_long_unknown_run_in_bounded_pieces() -> None:
    tokenizer = Tokenizer("jieba+bigram", max_jieba_chars=50)
    spy = _spied(tokenizer)
    run = "\u9fa0" * 1000  # a character jieba's dictionary does not know: all HMM
    tokens = tokenizer.tokenize(run)
    assert spy.lengths and max(spy.lengths) <= 50
    assert sum(spy.lengths) == len(run)
    assert tokens.count("\u9fa0\u9fa0") >= len(run) - 1  # the bigrams are still all there


def test_default_tokenizer_bounds_the_run_too() -> None:
    tokenizer = Tokenizer()
    spy = _spied(tokenizer)
    tokenizer.tokenize("\u9fa0" * 5000)
    assert max(spy.lengths) <= tokenizer.max_jieba_chars  # type: ignore[operator]


@pytest.mark.parametrize("limit", [30, 60, 200])
def test_pieces_give_the_same_tokens_as_whole_runs(limit: int) -> None:
    whole = Tokenizer("jieba+bigram", max_jieba_chars=None)
    pieces = Tokenizer("jieba+bigram", max_jieba_chars=limit)
    for text in (TEXT, ONE_RUN, ONE_RUN * 3):
        assert pieces.tokenize(text) == whole.tokenize(text)


def test_pieces_cover_the_run_and_end_next_to_words() -> None:
    jieba = Tokenizer("jieba")._jieba_tokenizer()
    run = ONE_RUN * 2
    words = list(jieba.cut(run, HMM=False))
    pieces = list(jieba_pieces(run, words, 40))
    assert "".join(pieces) == run
    assert len(pieces) > 1 and all(len(piece) <= 40 for piece in pieces)
    ends, position = set(), 0
    for word in words:
        if len(word) > 1:
            ends |= {position, position + len(word)}
        position += len(word)
    cuts = [sum(map(len, pieces[: i + 1])) for i in range(len(pieces) - 1)]
    assert all(cut in ends for cut in cuts)


def test_a_stretch_without_words_is_cut_every_limit_characters() -> None:
    run = "\u9fa0" * 25
    assert list(jieba_pieces(run, list(run), 10)) == [run[:10], run[10:20], run[20:]]


def test_bad_limit_rejected() -> None:
    with pytest.raises(ValueError, match="max_jieba_chars"):
        Tokenizer(max_jieba_chars=0)
