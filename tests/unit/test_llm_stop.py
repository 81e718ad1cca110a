"""StopCutter: stop strings are cut wherever the stream splits them, and never emitted."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from rag.llms.base import StopCutter


def run(pieces: Sequence[str], stop: Sequence[str] | None) -> tuple[list[str], bool]:
    """What the cutter emits for each piece (plus the flush), and whether it stopped."""
    cutter = StopCutter(stop)
    emitted = [cutter.feed(piece) for piece in pieces]
    emitted.append(cutter.flush())
    return emitted, cutter.stopped


def test_no_stop_strings_passes_everything_through_at_once() -> None:
    emitted, stopped = run(["Hel", "lo", " world"], None)
    assert emitted == ["Hel", "lo", " world", ""]
    assert not stopped


def test_stop_never_seen_emits_everything() -> None:
    emitted, stopped = run(["abc", "def", "ghi"], ["XYZ"])
    assert "".join(emitted) == "abcdefghi"
    assert not stopped


def test_stop_inside_one_piece() -> None:
    emitted, stopped = run(["answer END more", "ignored"], ["END"])
    assert "".join(emitted) == "answer "
    assert stopped


def test_stop_split_across_two_pieces() -> None:
    emitted, stopped = run(["The answer.\nQue", "stion: next"], ["Question:"])
    assert "".join(emitted) == "The answer.\n"
    assert stopped
    assert "Que" not in "".join(emitted)


def test_stop_split_across_three_pieces() -> None:
    emitted, stopped = run(["ok <|", "im_", "end|> tail"], ["<|im_end|>"])
    assert "".join(emitted) == "ok "
    assert stopped


def test_stop_at_the_very_start() -> None:
    emitted, stopped = run(["STOP", "after"], ["STOP"])
    assert "".join(emitted) == ""
    assert stopped


def test_earliest_stop_wins_among_several() -> None:
    emitted, stopped = run(["a b ## c\n\nd"], ["\n\n", "##"])
    assert "".join(emitted) == "a b "
    assert stopped


def test_earliest_stop_wins_when_a_longer_one_is_still_pending() -> None:
    # "</answer>" could still be completing when "\n" arrives; the earlier match wins.
    emitted, stopped = run(["x </ans", "\nmore"], ["</answer>", "\n"])
    assert "".join(emitted) == "x </ans"
    assert stopped


def test_false_start_is_released_once_proven_safe() -> None:
    cutter = StopCutter(["Question:"])
    assert cutter.feed("see Que") == "see "  # "Que" might start the stop string
    assert cutter.feed("ue") == "Queue"  # it did not
    assert cutter.flush() == ""
    assert not cutter.stopped


def test_holds_back_less_than_the_longest_stop() -> None:
    cutter = StopCutter(["abcdef"])
    out = cutter.feed("xxxxxabcde")
    assert out == "xxxxx"  # at most len("abcdef") - 1 characters held
    assert cutter.flush() == "abcde"


def test_partial_stop_at_end_is_flushed() -> None:
    emitted, stopped = run(["answer ST"], ["STOP"])
    assert emitted == ["answer ", "ST"]
    assert not stopped


def test_nothing_emitted_after_stop() -> None:
    cutter = StopCutter(["!"])
    assert cutter.feed("hi! there") == "hi"
    assert cutter.feed("more") == ""
    assert cutter.flush() == ""


@pytest.mark.parametrize("stop", [[], [""], None])
def test_empty_stop_lists_are_ignored(stop: list[str] | None) -> None:
    emitted, stopped = run(["a", "b"], stop)
    assert emitted == ["a", "b", ""]
    assert not stopped


def test_character_by_character_stream() -> None:
    text = "first line\nUser: second"
    emitted, stopped = run(list(text), ["\nUser:"])
    assert "".join(emitted) == "first line"
    assert stopped
