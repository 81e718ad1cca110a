"""The gguf backend on the REAL shipped models (0.5B "fast" for most calls, one 1.5B call).

The GGUF files are assembled once per machine into the settings' cache dir
(~/.cache/zhiku by default), not into a tmp dir: assembling costs ~1.6 GB of copying.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import PromptTemplate

from rag.factory import llm_setup
from rag.llms import ContextWindowExceededError, ZhikuLLM, build_llm
from rag.settings import Settings, load_settings
from rag.tokens import estimate_tokens

pytest.importorskip("llama_cpp")

pytestmark = pytest.mark.slow

COUNT = "Count from 1 to 10 in digits, separated by commas. Output only the numbers."


def fast_settings(**overrides: Any) -> Settings:
    return load_settings(llm_model="fast", llm_device="cpu", **overrides)


@pytest.fixture(scope="module")
def fast() -> Iterator[ZhikuLLM]:
    llm = build_llm(llm_setup(fast_settings())).load()
    assert isinstance(llm, ZhikuLLM)
    yield llm
    del llm


class Recorder(BaseCallbackHandler):
    def __init__(self, events: list[tuple[str, str]]) -> None:
        self.events = events

    def on_llm_new_token(self, token: Any, **kwargs: Any) -> None:
        self.events.append(("token", token))

    def on_llm_end(self, response: Any, **kwargs: Any) -> None:
        self.events.append(("end", ""))


def test_invoke_answers(fast: ZhikuLLM) -> None:
    answer = fast.invoke("What is the capital of France? One word.", max_new_tokens=16)
    assert isinstance(answer, str)
    assert "paris" in answer.lower()


def test_usage_matches_llama_cpp_own_count(fast: ZhikuLLM) -> None:
    llama: Any = fast._llama  # type: ignore[attr-defined]
    for prompt, max_tokens in [(COUNT, 6), ("Say just: hi", 16)]:
        info = (
            fast.generate([prompt], max_new_tokens=max_tokens, temperature=0)
            .generations[0][0]
            .generation_info
        )
        assert info is not None
        reference = llama.create_chat_completion(
            messages=fast.messages_for(prompt),
            max_tokens=max_tokens,
            temperature=0,
            top_p=fast.top_p,
            repeat_penalty=fast.repetition_penalty,
        )
        assert info["usage"] == reference["usage"]
        assert info["finish_reason"] == reference["choices"][0]["finish_reason"]


def test_token_count_is_the_models_own(fast: ZhikuLLM) -> None:
    """The prompt's token budget counts with the model's tokenizer, not an estimate."""
    llama: Any = fast._llama  # type: ignore[attr-defined]
    for text in ["岳飛在建炎四年五月打敗了完顏宗弼。", "The stew keeps for four days."]:
        exact = len(llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))
        assert fast.get_num_tokens(text) == exact
    # the estimate used for other models is within a third of it on both scripts
    chinese = "新北市的海岸線約有一百二十公里，沿岸有多處漁港與海水浴場。" * 4
    english = "The reading room opens at nine on weekdays and closes at six. " * 4
    for text in (chinese, english):
        assert abs(estimate_tokens(text) / fast.get_num_tokens(text) - 1) < 1 / 3


def test_stream_yields_several_chunks_after_their_callbacks(fast: ZhikuLLM) -> None:
    events: list[tuple[str, str]] = []
    for chunk in fast.stream(
        COUNT, config={"callbacks": [Recorder(events)]}, max_new_tokens=12, temperature=0
    ):
        events.append(("yield", chunk))
    assert events[-1] == ("end", "")
    body = events[:-1]
    for i in range(0, len(body), 2):
        assert body[i][0] == "token"
        assert body[i + 1] == ("yield", body[i][1])
    texts = [text for kind, text in body if kind == "yield" and text]
    assert len(texts) >= 5
    assert "".join(texts).startswith("1")


def test_stop_strings_cut_the_answer(fast: ZhikuLLM) -> None:
    full = fast.invoke(COUNT, max_new_tokens=30, temperature=0)
    assert "5" in full
    cut = fast.invoke(COUNT, max_new_tokens=30, temperature=0, stop=["5"])
    assert cut == full[: full.index("5")]
    # several stop strings, the earliest one found wins; streamed output is cut the same
    stops = ["7", "4,5", "4, 5"]
    earliest = min(full.index(s) for s in stops if s in full)
    streamed = list(fast.stream(COUNT, max_new_tokens=30, temperature=0, stop=stops))
    assert "".join(streamed) == full[:earliest]
    assert not any(s in "".join(streamed) for s in stops)


def test_prompt_llm_parser_chain(fast: ZhikuLLM) -> None:
    prompt = PromptTemplate.from_template("Translate to English, answer with one word: {word}")
    chain = prompt | fast.bind(max_new_tokens=8, temperature=0) | StrOutputParser()
    answer = chain.invoke({"word": "猫"})
    assert "cat" in answer.lower()


def test_concurrent_calls_share_one_model(fast: ZhikuLLM) -> None:
    answers: list[str] = []
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            answers.append(fast.invoke(COUNT, max_new_tokens=6, temperature=0))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(answers) == 3
    assert len(set(answers)) == 1  # greedy: the same answer every time


def test_prompt_longer_than_context_window_is_a_clear_error() -> None:
    settings = fast_settings()
    entry = settings.models.llm.model_copy(update={"context_window": 256})
    small = settings.updated(llm_model_dict={"fast": entry})
    llm = build_llm(llm_setup(small))
    with pytest.raises(ContextWindowExceededError, match="context window"):
        llm.invoke("word " * 400, max_new_tokens=4)


def test_default_model_invoke() -> None:
    settings = load_settings(llm_device="cpu")
    assert settings.models.llm_model == "qwen2.5-coder-1.5b"
    llm = build_llm(llm_setup(settings)).load()
    result = llm.generate(["What is 2 + 3? Answer with the number only."], max_new_tokens=8)
    generation = result.generations[0][0]
    assert "5" in generation.text
    assert generation.generation_info is not None
    assert generation.generation_info["usage"]["completion_tokens"] >= 1


def test_repacking_probe_on_this_machine(fast: ZhikuLLM) -> None:
    """The probe runs the real model in a child (it crashes there, not here, where repacking
    breaks) and the model loaded with the outcome answers in several tokens."""
    from rag.llms.repack import probe_in_child, repack_enabled

    path = fast.model_path  # type: ignore[attr-defined]
    assert path is not None
    outcome = probe_in_child(path)
    assert isinstance(outcome, bool)
    settings = fast_settings()
    assert repack_enabled("auto", path, settings.models.cache_dir) is outcome  # remembered on load
    answer = fast.invoke(COUNT, max_new_tokens=32, temperature=0)
    assert "1,2,3" in answer.replace(" ", "")


def test_yes_probability_reads_the_first_token(fast: ZhikuLLM) -> None:
    # the same llama.cpp instance answers afterwards: the logits processor leaves no trace
    source = "Sources:\n[1] (obs.md) The Zephyr Valley Observatory was founded in 1962.\n\n"
    asked = source + "Question: When was the Zephyr Valley Observatory founded?\n\n"
    off = source + "Question: Who won the 2010 football World Cup?\n\n"
    tail = "Does one of the sources above answer this question? Reply Yes or No."
    yes, no = fast.yes_probability(asked + tail), fast.yes_probability(off + tail)
    assert yes is not None and no is not None
    assert 0.0 <= no < yes <= 1.0  # the 0.5B: about 0.47 against lower
    assert fast.invoke(COUNT, max_new_tokens=40).startswith("1")
