"""One line describing the CPU, for benchmark headers: int8 speed depends on it more than on clocks.

ONNX int8 matrix products run ~2x faster with VNNI (AVX-512 VNNI or AVX-VNNI) than on
AVX2 alone, so figures from two "2-core" machines are only comparable with this line.
"""
from __future__ import annotations

import os
import platform
from pathlib import Path

INT8_FLAGS = ("amx_int8", "avx512_vnni", "avx_vnni")


def describe_cpu() -> str:
    model, flags = platform.processor() or platform.machine(), set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
                break
    simd = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else platform.machine()
    int8 = [f for f in INT8_FLAGS if f in flags]
    return f"{model}, {os.cpu_count()} cores, {simd}, int8 dot-product: {', '.join(int8) or 'none (no VNNI)'}"


if __name__ == "__main__":
    print(describe_cpu())
