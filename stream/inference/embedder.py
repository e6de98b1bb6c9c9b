"""Sentence embeddings from an exported ONNX encoder: tokenize, run, mean-pool, L2-normalise.

Needs only onnxruntime, tokenizers and numpy, so the worker never imports
torch. Texts are sorted by token length and cut into batches by a token
budget (rows x padded length), not a fixed row count: tickets average ~60
tokens but a few reach 512, and a fixed 32-row batch holding one long ticket
would pad 31 short ones to its length. The original order is restored at the end.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .exceptions import EmbedderCorruptError, EmbedderNotFoundError
from .runtime import choose_providers, import_onnxruntime
from .stages import stage

log = logging.getLogger(__name__)

# int8-token: int8 with one activation scale per token (training/embedders/token_int8.py), so a
# text's vector does not depend on its batch; int8: one scale per onnxruntime call (moves with
# the batch mates); fp32: the exported model.
VARIANTS = {"int8-token": "onnx/model.int8-token.onnx", "int8": "onnx/model.int8.onnx", "fp32": "onnx/model.onnx"}
DEFAULT_VARIANT = "int8-token"
# Padded tokens per onnxruntime call (see token_budget_batches). Measured on dataset tickets in
# the worker's 64-ticket micro-batches (bench/stages.py): 256 costs ~25% less CPU than 1024 and
# ~45% less than 4096 (the activations of a small call stay in the core's cache), while one text
# per call costs ~20% more (per-call overhead); fixed 32-row batches pad 3.5x the real tokens.
DEFAULT_MAX_BATCH_TOKENS = 256
# How a text over ``max_tokens`` is cut: "head" keeps its start; "head+tail" keeps its start and,
# for the last quarter of the budget, its end (a long e-mail's question is often in its last
# lines). Part of a model version's embedder spec, so training and serving cut alike.
TRUNCATIONS = ("head", "head+tail")
TAIL_SHARE = 4  # head+tail: 1/TAIL_SHARE of the token budget goes to the tail


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class EmbedderManifest:
    """The fields of ``manifest.json`` the runtime relies on."""

    name: str
    dim: int
    max_tokens: int
    prefix: str
    pooling: str
    normalize: bool
    files: dict

    @classmethod
    def read(cls, folder: Path) -> "EmbedderManifest":
        path = folder / "manifest.json"
        if not folder.is_dir():
            raise EmbedderNotFoundError(folder, "the folder")
        if not path.is_file():
            raise EmbedderNotFoundError(folder, "manifest.json")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(name=data["name"], dim=int(data["dim"]), max_tokens=int(data["max_tokens"]),
                       prefix=data.get("prefix", ""), pooling=data.get("pooling", "mean"),
                       normalize=bool(data.get("normalize", True)), files=dict(data.get("files", {})))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise EmbedderCorruptError(f"{path} is not a valid embedder manifest ({exc}); "
                                       f"rebuild with `python -m training build-embedder --force`") from None


class OnnxEmbedder:
    """A loaded embedder; ``embed(texts)`` returns L2-normalised float32 rows of ``dim`` columns."""

    def __init__(self, session, tokenizer, manifest: EmbedderManifest, *, variant: str, sha256: str,
                 max_tokens: int, folder: Path, truncation: str = "head",
                 max_batch_tokens: int = DEFAULT_MAX_BATCH_TOKENS):
        self._session = session
        self._tokenizer = tokenizer
        self.manifest = manifest
        self.variant = variant
        self.sha256 = sha256
        self.max_tokens = max_tokens
        self.truncation = truncation
        self.max_batch_tokens = max_batch_tokens  # embed()'s default budget (TICKETS_EMBED_BATCH_TOKENS)
        self.folder = folder
        self._input_names = {i.name for i in session.get_inputs()}
        self._pad_id = _pad_id(tokenizer)

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def dim(self) -> int:
        return self.manifest.dim

    @property
    def id(self) -> str:
        return f"{self.name}@{self.sha256[:12]}-{self.variant}"

    @property
    def providers(self) -> list[str]:
        return self._session.get_providers()

    @classmethod
    def load(cls, folder, variant: str = DEFAULT_VARIANT, max_tokens: int = 512, threads: int | None = None,
             provider: str = "auto", verify: bool = True, truncation: str = "head") -> "OnnxEmbedder":
        """Load ``folder`` (written by ``python -m training build-embedder``/``export-embedder``).

        ``max_tokens`` counts ``<s>``/``</s>`` and is capped by the model's own limit;
        ``truncation`` says which tokens of a longer text are kept (see ``TRUNCATIONS``);
        ``threads`` sets onnxruntime's intra-op threads (None or 0: its default);
        ``verify`` checks the ONNX file against the manifest's sha256.
        """
        from tokenizers import Tokenizer

        folder = Path(folder).expanduser()
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {sorted(VARIANTS)}, not {variant!r}")
        if max_tokens < 3:
            raise ValueError(f"max_tokens must be at least 3 (<s>, one token, </s>), not {max_tokens}")
        if truncation not in TRUNCATIONS:
            raise ValueError(f"truncation must be one of {list(TRUNCATIONS)}, not {truncation!r}")
        manifest = EmbedderManifest.read(folder)
        rel = VARIANTS[variant]
        model_path, tokenizer_path = folder / rel, folder / "tokenizer.json"
        for path in (model_path, tokenizer_path):
            if not path.is_file():
                raise EmbedderNotFoundError(folder, path.relative_to(folder).as_posix())
        recorded = manifest.files.get(rel)
        if recorded is None:
            raise EmbedderCorruptError(f"{folder}/manifest.json lists no sha256 for {rel}; rebuild it")
        if verify and _sha256(model_path) != recorded:
            raise EmbedderCorruptError(
                f"{model_path} does not match the sha256 in its manifest; rebuild with "
                f"`python -m training build-embedder --force`")

        effective = min(max_tokens, manifest.max_tokens)
        tokenizer = Tokenizer.from_file(str(tokenizer_path))
        tokenizer.no_padding()
        if truncation == "head":
            tokenizer.enable_truncation(max_length=effective)
        else:  # cut by tokenize(), which needs the whole sequence
            tokenizer.no_truncation()

        ort = import_onnxruntime()
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
            options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle worker threads would otherwise busy-wait between ops: on shared or CPU-limited
        # machines (pods, the 2-core dev box) that burns the cores the other threads need.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = choose_providers(provider)
        if variant.startswith("int8") and providers[0] == "CUDAExecutionProvider":
            log.warning("the int8 model's dynamic-quantization ops mostly run on CPU even with CUDA; "
                        "use variant 'fp32' (TICKETS_EMBED_VARIANT=fp32) on a GPU")
        session = ort.InferenceSession(str(model_path), sess_options=options, providers=providers)
        log.info("loaded embedder", extra={"embedder": f"{manifest.name}-{variant}", "dim": manifest.dim,
                                           "max_tokens": effective, "threads": threads or "default"})
        return cls(session, tokenizer, manifest, variant=variant, sha256=recorded,
                   max_tokens=effective, folder=folder, truncation=truncation)

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids per text, prefix added, ``<s>``/``</s>`` included, cut to ``max_tokens``."""
        prefixed = [self.manifest.prefix + _as_text(t) for t in texts]
        ids = [enc.ids for enc in self._tokenizer.encode_batch(prefixed)]
        if self.truncation == "head+tail":
            ids = [head_tail(row, self.max_tokens) for row in ids]
        return ids

    def embed(self, texts: Sequence[str], batch_size: int = 32,
              max_batch_tokens: int | None = None) -> np.ndarray:
        """``(len(texts), dim)`` float32, L2-normalised, in the order of ``texts``.

        A batch holds at most ``batch_size`` rows and, padded, at most ``max_batch_tokens``
        tokens (default: the embedder's ``max_batch_tokens``); a longer text goes alone.
        """
        if max_batch_tokens is None:
            max_batch_tokens = self.max_batch_tokens
        if isinstance(texts, str):
            raise TypeError("embed() takes a list of texts, not a single string")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        if max_batch_tokens < 1:
            raise ValueError(f"max_batch_tokens must be at least 1, not {max_batch_tokens}")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not len(texts):
            return out
        with stage("tokenize"):
            ids = self.tokenize(texts)
        lengths = [len(x) for x in ids]
        order = np.argsort(lengths, kind="stable")
        with stage("embed"):
            for rows in token_budget_batches([lengths[i] for i in order], batch_size, max_batch_tokens):
                picked = order[rows]
                out[picked] = self._embed_batch([ids[i] for i in picked])
        return out

    def _embed_batch(self, batch: list[list[int]]) -> np.ndarray:
        width = max(len(x) for x in batch)
        input_ids = np.full((len(batch), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for i, row in enumerate(batch):
            input_ids[i, :len(row)] = row
            mask[i, :len(row)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        hidden = self._session.run(["last_hidden_state"], feeds)[0]
        if self.manifest.pooling == "cls":
            pooled = hidden[:, 0, :]
        else:
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        if self.manifest.normalize:
            pooled = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return pooled.astype(np.float32, copy=False)


def head_tail(ids: list[int], max_tokens: int) -> list[int]:
    """``ids`` (``<s>`` … ``</s>``) cut to ``max_tokens``: the first tokens and the last
    ``(max_tokens - 2) // TAIL_SHARE``, ``</s>`` kept at the end."""
    if len(ids) <= max_tokens:
        return ids
    body = max_tokens - 2
    tail = body // TAIL_SHARE
    return ids[:1 + body - tail] + ids[len(ids) - 1 - tail:]


def token_budget_batches(sorted_lengths: Sequence[int], max_rows: int, max_tokens: int) -> list[slice]:
    """Cut ascending lengths into consecutive slices of at most ``max_rows`` rows whose
    padded size (rows x longest row) stays within ``max_tokens``; a row over the budget goes alone."""
    batches, start = [], 0
    for end, length in enumerate(sorted_lengths):
        rows = end - start + 1  # lengths ascend, so this row sets the padded width
        if end > start and (rows > max_rows or rows * length > max_tokens):
            batches.append(slice(start, end))
            start = end
    if start < len(sorted_lengths):
        batches.append(slice(start, len(sorted_lengths)))
    return batches


def _as_text(text) -> str:
    if not isinstance(text, str):
        raise TypeError(f"texts must be strings, got {type(text).__name__}")
    return text


def _pad_id(tokenizer) -> int:
    for token in ("<pad>", "[PAD]"):
        token_id = tokenizer.token_to_id(token)
        if token_id is not None:
            return token_id
    return 0
