"""The runtime embedder on the real built e5-small: shapes, order, truncation, errors, behaviour."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from stream.inference.embedder import OnnxEmbedder, token_budget_batches
from stream.inference.exceptions import EmbedderCorruptError, EmbedderNotFoundError
from stream.inference.runtime import ProviderUnavailableError, choose_providers

TICKETS = [
    "Outlook keeps asking for my password after the update.",
    "The printer on floor 3 prints blank pages.",
    "I need access to the finance shared drive.",
    "VPN disconnects every ten minutes when working from home.",
    "ok",
]


@pytest.fixture(scope="module")
def embedder(e5_embedder_dir):
    return OnnxEmbedder.load(e5_embedder_dir, threads=2)


def test_rows_are_unit_float32_vectors_of_the_manifest_dim(embedder):
    vectors = embedder.embed(TICKETS)
    assert vectors.shape == (len(TICKETS), 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.dim == 384 and embedder.name == "multilingual-e5-small"
    assert embedder.id == f"multilingual-e5-small@{embedder.sha256[:12]}-int8-token"  # the default variant


def test_sorting_by_length_keeps_the_callers_order(e5_embedder_dir):
    embedder = OnnxEmbedder.load(e5_embedder_dir, variant="fp32")
    batched = embedder.embed(TICKETS, batch_size=2)
    for text, row in zip(TICKETS, batched):
        assert float(row @ embedder.embed([text])[0]) > 0.99999


LONG = "The laptop does not start and the screen stays black after the docking station update. "
MIXED = [LONG * 30, "ok", TICKETS[0], LONG * 3, TICKETS[1], LONG * 12, TICKETS[2], "VPN", LONG, TICKETS[3]]


@pytest.mark.parametrize("max_batch_tokens", [16, 256, 4096])
def test_token_budget_batches_match_one_at_a_time_in_order(embedder, max_batch_tokens):
    """16 tokens is less than every text but "ok": each long text must still be embedded, alone."""
    batched = embedder.embed(MIXED, batch_size=4, max_batch_tokens=max_batch_tokens)
    alone = np.vstack([embedder.embed([text]) for text in MIXED])
    # the default int8-token model scales each token by itself: batch mates change nothing
    np.testing.assert_allclose(batched, alone, atol=1e-6)
    # each row is nearest to its own text's vector: the caller's order is kept
    assert (np.argmax(batched @ alone.T, axis=1) == np.arange(len(MIXED))).all()


@pytest.mark.parametrize("lengths,max_rows,max_tokens", [
    ([3, 5, 5, 60, 100, 512, 512], 32, 256),
    ([8] * 50, 16, 10_000),
    ([4, 4, 9, 9, 9, 9, 30, 200], 3, 40),
    ([600], 32, 100),
    ([], 8, 100),
])
def test_token_budget_batches_cover_every_row_within_the_limits(lengths, max_rows, max_tokens):
    batches = token_budget_batches(lengths, max_rows, max_tokens)
    assert [i for b in batches for i in range(len(lengths))[b]] == list(range(len(lengths)))
    for b in batches:
        rows = lengths[b]
        assert len(rows) <= max_rows
        assert len(rows) == 1 or len(rows) * max(rows) <= max_tokens
    # greedy: the next row would have broken a limit
    for b, nxt in zip(batches, batches[1:]):
        grown = lengths[b.start:nxt.start + 1]
        assert len(grown) > max_rows or len(grown) * max(grown) > max_tokens


def test_bad_budget_is_refused(embedder):
    with pytest.raises(ValueError, match="max_batch_tokens"):
        embedder.embed(TICKETS, max_batch_tokens=0)


def test_empty_list_gives_zero_rows(embedder):
    assert embedder.embed([]).shape == (0, 384)


def test_bad_arguments_are_refused(embedder, e5_embedder_dir):
    with pytest.raises(TypeError, match="list"):
        embedder.embed("a single string")
    with pytest.raises(TypeError, match="strings"):
        embedder.embed(["fine", None])
    with pytest.raises(ValueError, match="variant"):
        OnnxEmbedder.load(e5_embedder_dir, variant="fp16")


def test_prefix_is_added_by_the_embedder(embedder):
    ids = embedder.tokenize(["printer"])[0]
    query_ids = embedder._tokenizer.encode("query: printer").ids  # noqa: SLF001 - the shipped tokenizer
    assert ids == query_ids


def test_long_text_is_truncated_to_max_tokens(embedder, e5_embedder_dir):
    long_text = "The laptop does not start and the screen stays black. " * 200
    assert len(embedder.tokenize([long_text])[0]) == 512
    vectors = embedder.embed([long_text, "ok"])
    assert vectors.shape == (2, 384) and np.isfinite(vectors).all()
    short = OnnxEmbedder.load(e5_embedder_dir, max_tokens=16, verify=False)
    assert short.max_tokens == 16 and len(short.tokenize([long_text])[0]) == 16
    # the model's own limit wins over a larger request
    assert OnnxEmbedder.load(e5_embedder_dir, max_tokens=4096, verify=False).max_tokens == 512


def test_same_ticket_across_languages_is_closer_than_unrelated_tickets(embedder):
    en, de, unrelated = embedder.embed([
        "My laptop does not connect to the VPN since this morning.",
        "Mein Laptop verbindet sich seit heute Morgen nicht mit dem VPN.",
        "Please order a new office chair for the meeting room.",
    ])
    assert en @ de > en @ unrelated + 0.05
    assert en @ de > de @ unrelated + 0.05


def test_missing_folder_names_the_build_command(tmp_path):
    with pytest.raises(EmbedderNotFoundError, match="python -m training build-embedder"):
        OnnxEmbedder.load(tmp_path / "nowhere")


def _partial_copy(source, target, skip):
    """A folder of symlinks to the real embedder's files, minus ``skip``."""
    for rel in ["manifest.json", "tokenizer.json", "onnx/model.onnx", "onnx/model.int8.onnx",
                "onnx/model.int8-token.onnx"]:
        if rel in skip:
            continue
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(source / rel, target / rel)
    return target


def test_missing_file_is_named(e5_embedder_dir, tmp_path):
    folder = _partial_copy(e5_embedder_dir, tmp_path, skip={"onnx/model.int8-token.onnx"})
    with pytest.raises(EmbedderNotFoundError, match="onnx/model.int8-token.onnx"):
        OnnxEmbedder.load(folder)
    assert OnnxEmbedder.load(folder, variant="fp32").dim == 384


def test_onnx_file_that_differs_from_its_manifest_is_refused(e5_embedder_dir, tmp_path):
    folder = _partial_copy(e5_embedder_dir, tmp_path, skip={"manifest.json"})
    manifest = json.loads((e5_embedder_dir / "manifest.json").read_text())
    manifest["files"]["onnx/model.int8-token.onnx"] = "0" * 64
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(EmbedderCorruptError, match="sha256"):
        OnnxEmbedder.load(folder)


def test_provider_choice():
    assert choose_providers("cpu") == ["CPUExecutionProvider"]
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        assert choose_providers("auto")[0] == "CUDAExecutionProvider"
    else:
        assert choose_providers("auto") == ["CPUExecutionProvider"]
        with pytest.raises(ProviderUnavailableError, match="gpu"):
            choose_providers("cuda")
    with pytest.raises(ValueError):
        choose_providers("tpu")


def test_missing_onnxruntime_gives_the_install_hint():
    """Run in a fresh interpreter where importing onnxruntime fails, as on a bare install."""
    code = (
        "import sys; sys.modules['onnxruntime'] = None\n"
        "from stream.inference.runtime import import_onnxruntime, OnnxRuntimeMissingError\n"
        "try:\n    import_onnxruntime()\nexcept OnnxRuntimeMissingError as exc:\n    print(exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'ticket-classifier[cpu]'" in result.stdout
    assert "[gpu]" in result.stdout


def test_both_onnxruntime_flavours_installed_warns(tmp_path):
    """A second distribution's metadata on the path (as pip leaves it) triggers the warning."""
    dist = tmp_path / "onnxruntime_gpu-1.32.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: onnxruntime-gpu\nVersion: 1.32.0\n")
    code = (
        f"import sys, warnings; sys.path.append({str(tmp_path)!r})\n"
        "from stream.inference.runtime import import_onnxruntime, installed_distributions\n"
        "print(installed_distributions())\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    import_onnxruntime()\n"
        "print([str(w.message) for w in caught])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "'onnxruntime', 'onnxruntime-gpu'" in result.stdout
    assert "overwrite each other" in result.stdout
