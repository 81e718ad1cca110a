"""The transformers backend on a REAL model: the shipped 0.5B GGUF, converted once.

The conversion (GGUF -> a transformers model folder, ~1 minute, 2.5 GB) is kept in the
settings' cache dir (~/.cache/zhiku/models/qwen2.5-coder-0.5b-hf), so it runs once per
machine; later sessions only load the folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import PromptTemplate

from rag.factory import llm_setup
from rag.llms import ZhikuLLM, build_llm
from rag.llms.assets import gguf_to_transformers_folder, resolve_gguf_path
from rag.settings import load_settings

pytest.importorskip("transformers")
pytest.importorskip("gguf")

pytestmark = pytest.mark.slow

COUNT = "Count from 1 to 10 in digits, separated by commas. Output only the numbers."
CONVERTED_NAME = "qwen2.5-coder-0.5b-hf"


@pytest.fixture(scope="session")
def hf_model_folder() -> Path:
    """The shipped 0.5B model as a transformers folder under the cache dir (built once)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    settings = load_settings(llm_model="fast")
    gguf = resolve_gguf_path(settings.models.llm, settings.models.cache_dir, name="fast")
    return gguf_to_transformers_folder(gguf, settings.models.cache_dir / "models" / CONVERTED_NAME)


@pytest.fixture(scope="module")
def hf_llm(hf_model_folder: Path) -> Iterator[ZhikuLLM]:
    settings = load_settings(
        llm_model_dict={
            "qwen-0.5b-hf": {
                "backend": "transformers",
                "local_model_path": str(hf_model_folder),
                "context_window": 4096,
                "max_new_tokens": 16,
                "temperature": 0.0,
            }
        },
        llm_model="qwen-0.5b-hf",
        llm_device="cpu",
    )
    llm = build_llm(llm_setup(settings)).load()
    assert isinstance(llm, ZhikuLLM)
    yield llm
    del llm


def test_converted_folder_is_complete(hf_model_folder: Path) -> None:
    assert (hf_model_folder / "config.json").is_file()
    assert any(hf_model_folder.glob("*.safetensors"))
    assert (hf_model_folder / "zhiku-converted.json").is_file()


def test_invoke_answers_with_usage(hf_llm: ZhikuLLM) -> None:
    assert hf_llm._llm_type == "zhiku-transformers"
    result = hf_llm.generate(["What is the capital of France? One word."], max_new_tokens=8)
    generation = result.generations[0][0]
    assert "paris" in generation.text.lower()
    info = generation.generation_info
    assert info is not None
    assert info["finish_reason"] in {"stop", "length"}
    usage = info["usage"]
    assert usage["prompt_tokens"] > 10
    assert 1 <= usage["completion_tokens"] <= 8


def test_stream_callbacks_come_before_chunks(hf_llm: ZhikuLLM) -> None:
    events: list[tuple[str, str]] = []

    class Recorder(BaseCallbackHandler):
        def on_llm_new_token(self, token: Any, **kwargs: Any) -> None:
            events.append(("token", token))

    for chunk in hf_llm.stream(
        COUNT, config={"callbacks": [Recorder()]}, max_new_tokens=10, temperature=0
    ):
        events.append(("yield", chunk))
    for i in range(0, len(events), 2):
        assert events[i][0] == "token"
        assert events[i + 1] == ("yield", events[i][1])
    texts = [text for kind, text in events if kind == "yield" and text]
    assert len(texts) >= 3
    assert "".join(texts).startswith("1")


def test_stop_strings_cut_the_answer(hf_llm: ZhikuLLM) -> None:
    full = hf_llm.invoke(COUNT, max_new_tokens=12, temperature=0)
    assert "4" in full
    cut = hf_llm.invoke(COUNT, max_new_tokens=12, temperature=0, stop=["4"])
    assert cut == full[: full.index("4")]


def test_chain(hf_llm: ZhikuLLM) -> None:
    chain = (
        PromptTemplate.from_template("{question}")
        | hf_llm.bind(max_new_tokens=4)
        | StrOutputParser()
    )
    assert chain.invoke({"question": "What is 2 + 3? Answer with the number only."}).strip()
