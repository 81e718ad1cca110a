import itertools

import pytest

from rag.errors import ConfigError
from rag.splitters import build_splitter


def test_chinese_punctuation_stays_with_its_sentence():
    splitter = build_splitter("chinese_recursive", 20, 0)
    text = "台北是台灣的首都。高雄是第二大城市！台中呢？它在中部。"
    chunks = splitter.split_text(text)
    assert "".join(chunks) == text
    for chunk in chunks:
        assert not chunk.startswith(("。", "！", "？"))
        assert chunk.endswith(("。", "！", "？"))


def test_overlap_repeats_the_previous_sentence():
    splitter = build_splitter("chinese_recursive", 22, 12)
    sentences = ["第一句话说明了背景。", "第二句话给出了数据。", "第三句话得出了结论。"]
    chunks = splitter.split_text("".join(sentences))
    assert len(chunks) >= 2
    assert any(
        a.endswith(s) and b.startswith(s) for a, b in itertools.pairwise(chunks) for s in sentences
    )


def test_english_sentences_and_size_limit():
    splitter = build_splitter("chinese_recursive", 60, 0)
    text = "The cat sat on the mat. The dog barked loudly! Why did it bark? Nobody knows."
    chunks = splitter.split_text(text)
    assert all(len(c) <= 60 for c in chunks)
    assert chunks[0].endswith(".")


def test_unknown_splitter_lists_valid_names():
    with pytest.raises(ConfigError, match="valid: chinese_recursive, recursive"):
        build_splitter("semantic", 100, 10)
