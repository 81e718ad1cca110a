"""Sources given to the model in Simplified script, and the answer's copied stretches put
back as the sources write them (rag.chains.reading)."""

import random

import pytest

from rag.chains.reading import SourceWording, aligned_simplified
from rag.chains.script import ScriptConverter

SOURCE = "岳飛派二千人駐守吉州。後唐莊宗立劉玉娘為皇后。范汝為起兵。"


@pytest.fixture(scope="module")
def converter() -> ScriptConverter:
    return ScriptConverter()


def test_copied_stretches_come_back_as_written(converter):
    read = converter.to_simplified(SOURCE)
    assert read == "岳飞派二千人驻守吉州。后唐庄宗立刘玉娘为皇后。范汝为起兵。"
    wording = SourceWording(read, SOURCE)
    assert wording.restore("岳飞派二千人驻守吉州 [1]") == "岳飛派二千人駐守吉州 [1]"
    assert wording.restore("范汝为起兵 [1]") == "范汝為起兵 [1]"
    # OpenCC alone guesses at characters both scripts use: 范 (a name) becomes 範
    assert converter.to_traditional("范汝为") == "範汝為"


def test_what_is_not_copied_is_left_for_script_conversion(converter):
    wording = SourceWording(converter.to_simplified(SOURCE), SOURCE)
    restored = wording.restore("他派了2000人驻守吉州")
    assert restored == "他派了2000人駐守吉州"  # only the copied stretch changed
    assert wording.restore("发") == "发"  # one character is no evidence of copying


def test_streamed_pieces_join_to_the_whole_answer(converter):
    wording = SourceWording(converter.to_simplified(SOURCE), SOURCE)
    answer = "后唐庄宗立刘玉娘为皇后，岳飞派二千人驻守吉州。[1] 其他发展"
    whole = wording.restore(answer)
    rng = random.Random(0)
    for _ in range(50):
        cuts = sorted(rng.sample(range(1, len(answer)), 6))
        pieces = [answer[a:b] for a, b in zip([0, *cuts], [*cuts, len(answer)], strict=True)]
        assert "".join(wording.stream(pieces)) == whole


def test_a_long_copied_stretch_streams_before_it_ends(converter):
    original = "甲" * 3 + "劉玉娘為皇后後唐莊宗劉玉娘" + "乙"
    wording = SourceWording(converter.to_simplified(original), original)
    copied = converter.to_simplified("劉玉娘為皇后後唐莊宗劉玉娘")
    shown = []
    for index, out in enumerate(wording.stream(iter(copied))):
        shown.append((index, out))
    assert shown[0][0] < len(copied) - 1  # not everything waited for the end
    assert "".join(out for _, out in shown) == "劉玉娘為皇后後唐莊宗劉玉娘"


class LengthChangingConverter:
    """Converts one phrase to a longer one, as OpenCC phrase tables may."""

    def to_simplified(self, text: str) -> str:
        return text.replace("臺灣", "台湾省").replace("後", "后")


def test_alignment_survives_a_phrase_that_changes_length():
    text = "臺灣之後\n然後"
    read = aligned_simplified(LengthChangingConverter(), text)  # type: ignore[arg-type]
    assert len(read) == len(text)
    assert read.split("\n")[1] == "然后"  # unaffected lines keep the phrase conversion
    assert read.split("\n")[0] == "臺灣之后"  # that line went character by character
