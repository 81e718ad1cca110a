"""Chat templates: the prompt sent to the model is exactly what the model's template makes of
the messages, and the template's end-of-turn token ends generation.

Each case writes a model folder the way hub models ship one — `tokenizer.json` plus a
`tokenizer_config.json` holding the chat template and special tokens, `config.json`,
`generation_config.json` — with a byte-level tokenizer built here (256 byte tokens plus
the template's special tokens) and a random-weight model of a few thousand parameters.
The generation config's `sequence_bias` makes the model answer "ok" and then the
end-of-turn token; whether that token ends the answer depends only on the eos settings.
No downloads.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

from jinja2.sandbox import ImmutableSandboxedEnvironment  # noqa: E402

from rag.factory import llm_setup  # noqa: E402
from rag.llms import build_llm  # noqa: E402
from rag.settings import load_settings  # noqa: E402

LLAMA3_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
    " + message['content'] | trim + '<|eot_id|>' %}"
    "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
    "{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
    "{% endif %}"
)
QWEN_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are Qwen, a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
GLM_TEMPLATE = (
    "[gMASK]<sop>{% for item in messages %}"
    "{% if item['role'] == 'system' %}<|system|>\n{{ item['content'] }}"
    "{% elif item['role'] == 'user' %}<|user|>\n{{ item['content'] }}"
    "{% elif item['role'] == 'assistant' %}<|assistant|>\n{{ item['content'] }}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


@dataclass
class Style:
    """One chat-template family: its template, special tokens and end-of-turn token."""

    name: str
    template: str
    specials: list[str]
    end_of_turn: str
    tokenizer_eos: str
    generation_eos: list[str]
    bos: str | None = None
    architecture: str = "llama"
    extra: dict[str, Any] = field(default_factory=dict)


STYLES = [
    # Llama-3: the tokenizer's eos is <|end_of_text|>; only the generation config names
    # <|eot_id|>. The tokenizer adds <|begin_of_text|> itself, and the template too.
    Style(
        name="llama3",
        template=LLAMA3_TEMPLATE,
        specials=[
            "<|begin_of_text|>",
            "<|end_of_text|>",
            "<|start_header_id|>",
            "<|end_header_id|>",
            "<|eot_id|>",
        ],
        end_of_turn="<|eot_id|>",
        tokenizer_eos="<|end_of_text|>",
        generation_eos=["<|end_of_text|>", "<|eot_id|>"],
        bos="<|begin_of_text|>",
    ),
    # Qwen2.5: the tokenizer's eos is <|im_end|>; the generation config only names
    # <|endoftext|> here, so the tokenizer's eos must count too.
    Style(
        name="qwen",
        template=QWEN_TEMPLATE,
        specials=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        end_of_turn="<|im_end|>",
        tokenizer_eos="<|im_end|>",
        generation_eos=["<|endoftext|>"],
        architecture="qwen2",
    ),
    # GLM-4: a turn ends when the model starts the next one with <|user|>.
    Style(
        name="glm4",
        template=GLM_TEMPLATE,
        specials=[
            "<|endoftext|>",
            "[gMASK]",
            "<sop>",
            "<|system|>",
            "<|user|>",
            "<|assistant|>",
            "<|observation|>",
        ],
        end_of_turn="<|user|>",
        tokenizer_eos="<|endoftext|>",
        generation_eos=["<|endoftext|>", "<|user|>", "<|observation|>"],
    ),
]

MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Wie heißt du? 你好"},
]


def render(template: str, style: Style) -> str:
    """The template rendered the way transformers does, independently of its tokenizer."""
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    return env.from_string(template).render(
        messages=MESSAGES,
        add_generation_prompt=True,
        bos_token=style.bos or "",
        eos_token=style.tokenizer_eos,
    )


def write_model(folder: Path, style: Style, eos_in_config: bool = True) -> dict[str, int]:
    """A hub-style model folder for `style`; returns the special tokens' ids."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors
    from tokenizers.pre_tokenizers import ByteLevel

    vocab = {char: i for i, char in enumerate(sorted(ByteLevel.alphabet()))}
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens([AddedToken(s, special=True) for s in style.specials])
    ids: dict[str, int] = {}
    for special in style.specials:
        token_id = tokenizer.token_to_id(special)
        assert token_id is not None
        ids[special] = token_id
    if style.bos:  # like Llama-3: encoding with special tokens prepends the bos
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{style.bos} $A", special_tokens=[(style.bos, ids[style.bos])]
        )
    folder.mkdir(parents=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    tokenizer_config: dict[str, Any] = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "chat_template": style.template,
        "eos_token": style.tokenizer_eos,
        "model_max_length": 512,
    }
    if style.bos:
        tokenizer_config["bos_token"] = style.bos
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))

    size = tokenizer.get_vocab_size()
    common: dict[str, Any] = {
        "vocab_size": size,
        "hidden_size": 16,
        "intermediate_size": 32,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "max_position_embeddings": 512,
        "tie_word_embeddings": False,
        "eos_token_id": ids[style.tokenizer_eos],
    }
    config: Any
    if style.architecture == "qwen2":
        config = transformers.Qwen2Config(**common)
        model: Any = transformers.Qwen2ForCausalLM(config)
    else:
        config = transformers.LlamaConfig(**common)
        model = transformers.LlamaForCausalLM(config)
    torch.manual_seed(0)
    model.save_pretrained(folder)

    o, k, end = vocab["o"], vocab["k"], ids[style.end_of_turn]
    generation = transformers.GenerationConfig(
        eos_token_id=[ids[s] for s in style.generation_eos] if eos_in_config else None,
        # answer "ok", then the end-of-turn token
        sequence_bias=[[[o], 50.0], [[o, k], 100.0], [[o, k, end], 200.0]],
    )
    generation.save_pretrained(folder)
    return ids


def build(folder: Path, backend: str) -> Any:
    settings = load_settings(
        env={},
        llm_model_dict={
            "tiny": {
                "backend": backend,
                "local_model_path": str(folder),
                "context_window": 256,
                "max_new_tokens": 6,
                "temperature": 0.0,
                "repetition_penalty": 1.0,
            }
        },
        llm_model="tiny",
        llm_device="cpu",
        system_prompt="Be brief.",
    )
    return build_llm(llm_setup(settings)).load()


def record_prompts(model: Any) -> list[list[int]]:
    """Wrap `model.generate` to record the token ids of every prompt it is given."""
    seen: list[list[int]] = []
    original: Callable[..., Any] = model.generate

    def generate(*args: Any, **kwargs: Any) -> Any:
        input_ids: Any = kwargs.get("input_ids", args[0] if args else None)
        seen.append([int(i) for i in input_ids[0]])
        return original(*args, **kwargs)

    model.generate = generate
    return seen


def model_of(llm: Any) -> tuple[Any, Any]:
    if hasattr(llm, "pipeline"):
        return llm.pipeline.model, llm.pipeline.tokenizer
    return llm._model, llm._tokenizer


@pytest.mark.parametrize("backend", ["transformers", "hf_pipeline"])
@pytest.mark.parametrize("style", STYLES, ids=[s.name for s in STYLES])
def test_prompt_is_the_template_and_end_of_turn_stops(
    tmp_path: Path, style: Style, backend: str
) -> None:
    ids = write_model(tmp_path / style.name, style)
    llm = build(tmp_path / style.name, backend)
    model, tokenizer = model_of(llm)
    prompts = record_prompts(model)

    result = llm.generate(["Wie heißt du? 你好"]).generations[0][0]

    expected = render(style.template, style)
    assert len(prompts) == 1
    assert tokenizer.decode(prompts[0], skip_special_tokens=False) == expected
    assert prompts[0] == tokenizer(expected, add_special_tokens=False)["input_ids"]
    if style.bos:  # the template's bos, and not a second one from the tokenizer
        assert prompts[0].count(ids[style.bos]) == 1
        assert prompts[0][0] == ids[style.bos]
    assert result.text == "ok"
    if backend == "transformers":
        assert result.generation_info is not None
        assert result.generation_info["finish_reason"] == "stop"
        assert result.generation_info["usage"]["completion_tokens"] == 2  # o, k
    # streaming ends at the same place
    assert "".join(llm.stream("Wie heißt du? 你好")) == "ok"


@pytest.mark.parametrize("style", STYLES, ids=[s.name for s in STYLES])
def test_without_the_eos_setting_generation_runs_on(tmp_path: Path, style: Style) -> None:
    """The control: the same model whose configs do not name the end-of-turn token."""
    unnamed = Style(**{**style.__dict__, "tokenizer_eos": style.specials[0]})
    if unnamed.tokenizer_eos == style.end_of_turn:
        pytest.skip("the first special token is the end-of-turn token")
    write_model(tmp_path / "m", unnamed, eos_in_config=False)
    llm = build(tmp_path / "m", "transformers")
    result = llm.generate(["hi"]).generations[0][0]
    assert result.text.startswith("okok")  # the end-of-turn token did not stop it
    assert result.generation_info is not None
    assert result.generation_info["finish_reason"] == "length"
