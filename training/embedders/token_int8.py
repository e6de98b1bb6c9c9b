"""Per-token int8: the dynamic int8 graph rewritten so each token's activations get their own scale.

``quantize_dynamic`` quantizes every matmul's input with one scale for the whole tensor, i.e.
for the whole batch: a text's vector then moves with its batch mates, and the cached training
vectors differ from serving's. Here each ``DynamicQuantizeLinear`` becomes a symmetric
quantization per token (scale = max |x| over the hidden axis / 127, zero point 128), so a
token's int8 input, and therefore a text's vector, depends on nothing but that text: the
same vector alone or in any batch, bit for bit. It is also closer to fp32 (a token's range
is narrower than the batch's).

onnxruntime fuses ``MatMulInteger → Cast → Mul(a_scale · b_scale)`` into one
``MatMulIntegerToFloat`` that reads ``a_scale`` as a scalar, so the graph keeps that pattern
with a scalar scale (1/127, computed at run time so constant folding leaves it alone) and
multiplies by each token's max |x| right after.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

PREFIX = "token_int8"


def rewrite_per_token(model):
    """The ``onnx.ModelProto`` ``model`` with per-token activation quantization (changed in place)."""
    from onnx import helper, numpy_helper

    graph = model.graph
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 17)
    producers = {out: node for node in graph.node for out in node.output}
    dynamic = [node for node in graph.node if node.op_type == "DynamicQuantizeLinear"]
    if not dynamic:
        raise ValueError("the model has no DynamicQuantizeLinear node: not a dynamic int8 graph")
    row_scale = {node.output[1]: node.input[0] + f"_{PREFIX}_amax" for node in dynamic}
    graph.initializer.extend([
        numpy_helper.from_array(np.array(128, np.uint8), f"{PREFIX}_zero_point"),
        numpy_helper.from_array(np.array(1.0 / 127, np.float32), f"{PREFIX}_step"),
        numpy_helper.from_array(np.array(1e-6, np.float32), f"{PREFIX}_eps"),
    ])
    if opset >= 18:
        graph.initializer.append(numpy_helper.from_array(np.array([-1], np.int64), f"{PREFIX}_last_axis"))

    def reduce_max(x, out, keep):
        if opset >= 18:  # axes became an input
            axes = [f"{PREFIX}_last_axis"] if keep else []
            return helper.make_node("ReduceMax", [x, *axes], [out], keepdims=int(keep))
        return helper.make_node("ReduceMax", [x], [out], keepdims=int(keep), **({"axes": [-1]} if keep else {}))

    step = f"{PREFIX}_runtime_step"
    nodes = []
    for node in graph.node:
        if node.op_type != "DynamicQuantizeLinear":
            nodes.append(node)
            continue
        x, (q, scale, zero_point) = node.input[0], node.output
        p = f"{x}_{PREFIX}"
        nodes += [helper.make_node("Abs", [x], [p + "_abs"]),
                  reduce_max(p + "_abs", p + "_absmax", keep=True),
                  helper.make_node("Max", [p + "_absmax", f"{PREFIX}_eps"], [row_scale[scale]]),
                  helper.make_node("Div", [x, row_scale[scale]], [p + "_unit"]),
                  helper.make_node("QuantizeLinear", [p + "_unit", f"{PREFIX}_step", f"{PREFIX}_zero_point"], [q]),
                  helper.make_node("Identity", [f"{PREFIX}_zero_point"], [zero_point])]
        if step not in {o for n in nodes for o in n.output}:  # one run-time 1/127 for the whole graph
            nodes += [reduce_max(row_scale[scale], f"{PREFIX}_m", keep=False),
                      helper.make_node("Div", [f"{PREFIX}_m", f"{PREFIX}_m"], [f"{PREFIX}_one"]),
                      helper.make_node("Mul", [f"{PREFIX}_one", f"{PREFIX}_step"], [step])]
        nodes.append(helper.make_node("Identity", [step], [scale]))

    out, rescaled = [], 0
    for node in nodes:
        out.append(node)
        if node.op_type != "Mul":
            continue
        parents = [producers.get(i) for i in node.input]
        scale_mul = [p for p in parents if p is not None and p.op_type == "Mul"]
        from_cast = any(p is not None and p.op_type == "Cast" for p in parents)
        a_scale = [i for i in scale_mul[0].input if i in row_scale] if scale_mul and from_cast else []
        if a_scale:  # y = (int32 product · b_scale / 127) · the token's max |x|
            y = node.output[0]
            node.output[0] = y + f"_{PREFIX}_unscaled"
            out.append(helper.make_node("Mul", [node.output[0], row_scale[a_scale[0]]], [y]))
            rescaled += 1
    if rescaled != sum(1 for n in graph.node if n.op_type == "MatMulInteger"):
        raise ValueError(f"rescaled {rescaled} matmuls, but the graph has a MatMulInteger not followed by "
                         f"Cast → Mul(a_scale · b_scale): not the layout quantize_dynamic writes")
    del graph.node[:]
    graph.node.extend(out)
    return model


def write_per_token(int8_path: Path, out_path: Path, *, large: bool = False) -> Path:
    """Read the dynamic int8 model at ``int8_path``, write its per-token version to ``out_path``."""
    import onnx

    model = rewrite_per_token(onnx.load(str(int8_path)))
    if not large:  # the checker cannot hold a >2 GB proto
        onnx.checker.check_model(model)
    tmp = Path(out_path).with_name(Path(out_path).name + ".tmp")
    onnx.save(model, str(tmp), save_as_external_data=large,
              location=Path(out_path).name + ".data" if large else None)
    tmp.replace(out_path)
    return Path(out_path)
