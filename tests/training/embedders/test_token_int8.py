"""The per-token int8 model: every activation quantizer replaced, exact under onnxruntime's fusions,
closer to fp32 than the per-call int8 model."""
import numpy as np
import onnx
import pytest

from stream.inference.embedder import OnnxEmbedder, VARIANTS
from tests.training.embedders.sentences import AWKWARD, MULTILINGUAL
from training.embedders.token_int8 import rewrite_per_token

TEXTS = MULTILINGUAL + AWKWARD


@pytest.fixture(scope="module")
def graph(e5_embedder_dir):
    return onnx.load(str(e5_embedder_dir / VARIANTS["int8-token"]), load_external_data=False).graph


def test_no_activation_is_quantized_per_tensor_any_more(graph):
    ops = [n.op_type for n in graph.node]
    assert "DynamicQuantizeLinear" not in ops
    assert ops.count("QuantizeLinear") >= 1
    rescaled = [n for n in graph.node if n.op_type == "Mul" and n.input[0].endswith("_token_int8_unscaled")]
    assert len(rescaled) == ops.count("MatMulInteger")


def test_onnxruntime_s_fused_kernels_give_what_the_plain_graph_gives(e5_embedder_dir):
    """MatMulIntegerToFloat reads its A scale as a scalar: a per-token scale reaching it would use the
    first token's scale for all (cosine to fp32 ~0.85). Optimized or not, the vectors agree up to
    rounding: the fused fp32 kernels (SkipLayerNormalization, …) differ in the last bits, which
    moves a few int8 roundings (cosine ≥ 0.998 measured)."""
    import onnxruntime as ort

    path = str(e5_embedder_dir / VARIANTS["int8-token"])
    fp32 = OnnxEmbedder.load(e5_embedder_dir, variant="fp32", threads=1)
    ids = fp32.tokenize(TEXTS[:6])
    width = max(map(len, ids))
    input_ids = np.ones((len(ids), width), np.int64)
    mask = np.zeros_like(input_ids)
    for i, row in enumerate(ids):
        input_ids[i, :len(row)], mask[i, :len(row)] = row, 1
    out = []
    for level in (ort.GraphOptimizationLevel.ORT_DISABLE_ALL, ort.GraphOptimizationLevel.ORT_ENABLE_ALL):
        options = ort.SessionOptions()
        options.graph_optimization_level, options.intra_op_num_threads = level, 1
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        out.append(session.run(["last_hidden_state"], {"input_ids": input_ids, "attention_mask": mask})[0])
    weights = mask[:, :, None].astype(np.float32)
    pooled = [(hidden * weights).sum(axis=1) for hidden in out]
    plain, fused = (p / np.linalg.norm(p, axis=1, keepdims=True) for p in pooled)
    assert np.sum(plain * fused, axis=1).min() > 0.997
    assert np.sum(fused * fp32.embed(TEXTS[:6]), axis=1).min() > 0.995


def test_it_is_closer_to_fp32_than_per_call_int8(e5_embedder_dir):
    fp32 = OnnxEmbedder.load(e5_embedder_dir, variant="fp32").embed(TEXTS)
    cosine = {v: np.sum(OnnxEmbedder.load(e5_embedder_dir, variant=v).embed(TEXTS) * fp32, axis=1)
              for v in ("int8", "int8-token")}
    assert cosine["int8-token"].min() >= 0.995, TEXTS[int(cosine["int8-token"].argmin())]
    assert cosine["int8-token"].mean() > cosine["int8"].mean()


def test_a_graph_without_dynamic_quantization_is_refused(e5_embedder_dir):
    with pytest.raises(ValueError, match="DynamicQuantizeLinear"):
        rewrite_per_token(onnx.load(str(e5_embedder_dir / VARIANTS["fp32"])))
