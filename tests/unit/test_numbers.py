"""Numbers in answers written as the sources write them (rag.chains.numbers)."""

import random

import pytest

from rag.chains.numbers import NumberWording, number_value

SOURCE = "岳飛派二千人駐守吉州。華碩個人電腦銷量全球第四。1943年爆發大罷工，參與者十五萬人。"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2000", 2000),
        ("2千", 2000),
        ("二千", 2000),
        ("兩千", 2000),
        ("十五", 15),
        ("十五萬", 150000),
        ("一萬二千", 12000),
        ("三百零五", 305),
        ("一九四三", 1943),
        ("二〇一四", 2014),
        ("四", 4),
    ],
)
def test_number_values(text, value):
    assert number_value(text) == value


@pytest.mark.parametrize("text", ["", "萬", "千百", "第", "2x", "萬三"])
def test_words_that_are_not_numbers(text):
    assert number_value(text) is None


def test_a_rewritten_number_comes_back_as_the_source_writes_it():
    wording = NumberWording(SOURCE)
    assert wording.rewrite("岳飛派2000人駐守吉州。[1]") == "岳飛派二千人駐守吉州。[1]"
    assert wording.rewrite("全球第4 [1]") == "全球第四 [1]"
    assert wording.rewrite("派了2千人") == "派了二千人"
    assert wording.rewrite("150000人參與") == "十五萬人參與"
    assert wording.rewrite("一九四三年") == "1943年"


def test_numbers_are_left_alone_without_the_same_neighbours_or_value():
    wording = NumberWording(SOURCE)
    assert wording.rewrite("共有4個") == "共有4個"  # 四 in the source follows 第, not 有
    assert wording.rewrite("派2001人") == "派2001人"  # no such value in the source
    assert wording.rewrite("1943年") == "1943年"  # already as written
    assert wording.rewrite("第1.5") == "第1.5"  # part of a decimal number
    assert wording.rewrite("[1]") == "[1]"


def test_a_value_the_sources_write_two_ways_is_left_alone():
    wording = NumberWording("第四章。第4節。")
    assert wording.rewrite("第４") == "第４"  # a full-width digit is not a number here
    assert wording.rewrite("第肆") == "第肆"
    assert NumberWording("第四章，其後第四節。").rewrite("第4節") == "第四節"
    assert NumberWording("第四章，其後第4節。").rewrite("第4章") == "第4章"  # as written


def test_the_replacement_comes_from_the_aligned_text():
    read = "派二千人驻守"
    shown = "派二千人駐守"
    assert NumberWording(read, shown).rewrite("派2000人驻守") == "派二千人驻守"
    with pytest.raises(ValueError, match="aligned"):
        NumberWording(read, shown + "。")


def test_streamed_pieces_join_to_the_whole_answer():
    wording = NumberWording(SOURCE)
    answer = "岳飛派2000人駐守吉州，全球第4，1943年有150000人。"
    whole = wording.rewrite(answer)
    assert whole == "岳飛派二千人駐守吉州，全球第四，1943年有十五萬人。"
    rng = random.Random(0)
    for _ in range(50):
        cuts = sorted(rng.sample(range(1, len(answer)), 6))
        pieces = [answer[a:b] for a, b in zip([0, *cuts], [*cuts, len(answer)], strict=True)]
        assert "".join(wording.stream(pieces)) == whole


def test_a_number_at_the_end_is_not_lost():
    assert NumberWording(SOURCE).rewrite("全球第4") == "全球第四"
    assert "".join(NumberWording(SOURCE).stream(["第", "4"])) == "第四"


def test_text_without_numbers_streams_piece_by_piece():
    shown = list(NumberWording(SOURCE).stream(iter(["岳飛", "駐守", "吉州"])))
    assert shown == ["岳飛", "駐守", "吉州"]
