"""The transformers backend's token streamer and dtype choice, without a model."""

from __future__ import annotations

from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from rag.llms.transformers_backend import _TokenStreamer, pick_dtype  # noqa: E402


class ByteTokenizer:
    """Every token id is one UTF-8 byte, like a byte-level BPE at its worst."""

    def decode(self, ids: list[int], **kwargs: Any) -> str:
        return bytes(ids).decode("utf-8", errors="replace")


def stream(text: str) -> list[str]:
    streamer = _TokenStreamer(ByteTokenizer(), skip_prompt=True)  # type: ignore[arg-type]
    streamer.put(torch.tensor([[1, 2, 3]]))  # the prompt: skipped
    for byte in text.encode():
        streamer.put(torch.tensor([byte]))
    streamer.end()
    return [piece for piece in streamer if piece]


def test_ascii_is_handed_over_token_by_token() -> None:
    assert stream("ab c") == ["a", "b", " ", "c"]


def test_multibyte_characters_wait_until_complete() -> None:
    pieces = stream("你好\n世")
    assert pieces == ["你", "好", "\n", "世"]
    assert "\ufffd" not in "".join(pieces)


def test_batches_are_refused() -> None:
    streamer = _TokenStreamer(ByteTokenizer(), skip_prompt=False)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="one sequence"):
        streamer.put(torch.tensor([[1], [2]]))


def test_dtype_choice() -> None:
    assert pick_dtype("auto", "cpu") == torch.float32
    assert pick_dtype("bf16", "cpu") == torch.bfloat16
    assert pick_dtype("fp16", "cuda") == torch.float16
