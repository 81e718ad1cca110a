"""What an LLM backend is built from: its own entry, and the few app settings it needs.

The factory (`rag.factory.llm_setup`) makes it from the settings; backends never see the
whole `Settings`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from rag.errors import ConfigError
from rag.settings import AnyLLMEntry, Device

_Entry = TypeVar("_Entry", bound=AnyLLMEntry)


@dataclass(frozen=True)
class LLMSetup:
    name: str
    """The entry's name in LLM_MODEL_DICT (LLM_MODEL)."""
    entry: AnyLLMEntry
    """The entry, validated by its backend's class."""
    device: Device = "auto"
    """LLM_DEVICE (ignored by the `openai` backend: the server's GPU is its own business)."""
    system_prompt: str | None = None
    """SYSTEM_PROMPT; None: no system message."""
    cache_dir: Path = field(default_factory=lambda: Path("~/.cache/zhiku").expanduser())
    """Where assembled model files are kept (gguf)."""

    def entry_as(self, kind: type[_Entry]) -> _Entry:
        """The entry, checked to be `kind` (a backend is handed only its own entries)."""
        if not isinstance(self.entry, kind):
            raise ConfigError(
                f"LLM_MODEL_DICT[{self.name!r}] is a {self.entry.backend!r} entry, "
                f"not a {kind.__name__}"
            )
        return self.entry
