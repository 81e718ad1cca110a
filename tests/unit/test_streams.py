"""Rewriting steps over the model's stream: stopping one ends the model's generation."""

import pytest

from rag.chains.numbers import NumberWording
from rag.chains.reading import SourceWording
from rag.chains.retry import RefusalWatch
from rag.chains.streams import closing

SOURCE = "岳飛派二千人駐守吉州。"


def model_stream(closed: list[bool]):
    try:
        yield from ["岳飛", "派2000人", "駐守"]
    finally:
        closed.append(True)


REWRITES = {
    "source wording": lambda pieces: SourceWording(SOURCE, SOURCE).stream(pieces),
    "numbers": lambda pieces: NumberWording(SOURCE).stream(pieces),
    "pass-through": lambda pieces: closing(pieces, lambda source: source),
}


@pytest.mark.parametrize("rewrite", REWRITES.values(), ids=REWRITES.keys())
def test_stopping_early_closes_the_model_stream(rewrite):
    closed: list[bool] = []
    stream = rewrite(model_stream(closed))
    assert next(stream)
    assert closed == []
    stream.close()
    assert closed == [True]


@pytest.mark.parametrize("rewrite", REWRITES.values(), ids=REWRITES.keys())
def test_reading_to_the_end_closes_the_model_stream(rewrite):
    closed: list[bool] = []
    assert "".join(rewrite(model_stream(closed))).startswith("岳飛")
    assert closed == [True]


def test_a_refusal_ends_the_model_stream():
    from rag.chains.qa import _until_refused

    closed: list[bool] = []

    def refusing():
        try:
            yield from ["资料中", "没有找到答案", "，因为"]
        finally:
            closed.append(True)

    watch = RefusalWatch(("资料中没有找到答案",))
    assert list(_until_refused(refusing(), watch)) == []
    assert watch.refused and closed == [True]
