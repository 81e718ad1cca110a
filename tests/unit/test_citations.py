"""Every [n] in an answer names a source that was shown (rag.chains.citations)."""

import random

import pytest

from rag.chains.citations import CitationFilter, cited

SHOWN = {1, 2}


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("Taipei [1].", "Taipei [1]."),  # valid: as written
        ("Taipei [4].", "Taipei."),  # no such source: removed with the space before it
        ("台北 [1, 4]。", "台北 [1]。"),  # repaired to the sources shown
        ("台北【3】，高雄［2］", "台北，高雄［2］"),
        ("a[1][2][3]", "a[1][2]"),
        ("x [0]", "x"),
        ("[1，2，5] ok", "[1，2] ok"),
        ("array[a] and [12", "array[a] and [12"),  # not citations
        ("no citation  here\n[9] next", "no citation  here\n next"),  # a line break stays
    ],
)
def test_citations_name_only_shown_sources(answer, expected):
    assert CitationFilter(SHOWN).rewrite(answer) == expected


def test_streamed_pieces_join_to_the_whole_answer():
    answer = "台北 [1, 4]。高雄【3】和 [2] Taipei [7], or [ 1 ] end ["
    whole = CitationFilter(SHOWN).rewrite(answer)
    rng = random.Random(0)
    for _ in range(50):
        cuts = sorted(rng.sample(range(1, len(answer)), 8))
        pieces = [answer[a:b] for a, b in zip([0, *cuts], [*cuts, len(answer)], strict=True)]
        assert "".join(CitationFilter(SHOWN).stream(pieces)) == whole


def test_only_an_open_bracket_run_is_held_back():
    shown = list(CitationFilter(SHOWN).stream(iter(["台北", "是", "首都", "[", "1", "]", "。"])))
    assert shown[:3] == ["台北", "是", "首都"]  # nothing waits for the end
    assert "".join(shown) == "台北是首都[1]。"


def test_cited_numbers():
    assert cited("[1, 2]") == [1, 2] and cited("【3】") == [3] and cited("none") == []
