"""Export of an arbitrary encoder folder: a tiny random BERT built here goes through ONNX and the runtime."""
import json

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

from stream.inference.embedder import OnnxEmbedder
from training.embedders.export import export_embedder, read_source
from training.embedders.manifest import sha256_file

WORDS = "the printer vpn password reset laptop broken screen mail access please help my is not working".split()
TEXTS = ["the printer is broken", "please reset my password", "vpn", "my laptop screen is not working please help",
         "mail access", "unknownword printer"]


def _tiny_tokenizer() -> Tokenizer:
    vocab = {tok: i for i, tok in enumerate(["<s>", "<pad>", "</s>", "<unk>", *WORDS])}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    return tokenizer


@pytest.fixture(scope="module")
def tiny_source(tmp_path_factory):
    """A random 2-layer BERT (hidden 32) with its tokenizer, saved as a Hugging Face folder."""
    folder = tmp_path_factory.mktemp("tiny-bert")
    torch.manual_seed(0)
    config = BertConfig(vocab_size=4 + len(WORDS), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64, pad_token_id=1)
    model = BertModel(config).eval()
    model.save_pretrained(folder)
    PreTrainedTokenizerFast(tokenizer_object=_tiny_tokenizer(), pad_token="<pad>", unk_token="<unk>",
                            bos_token="<s>", eos_token="</s>").save_pretrained(folder)
    return folder, model


@pytest.fixture(scope="module")
def tiny_export(tiny_source, tmp_path_factory):
    folder, _ = tiny_source
    out = tmp_path_factory.mktemp("embedders") / "tiny"
    export_embedder(folder, out, name="tiny", prefix="", progress=False)
    return out


def _torch_mean_pooled(model, texts) -> np.ndarray:
    tokenizer = _tiny_tokenizer()
    rows = []
    with torch.no_grad():
        for text in texts:
            ids = torch.tensor([tokenizer.encode(text).ids])
            hidden = model(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state[0]
            rows.append(torch.nn.functional.normalize(hidden.mean(0), dim=0).numpy())
    return np.stack(rows)


def test_onnx_fp32_matches_pytorch(tiny_source, tiny_export):
    _, model = tiny_source
    embedder = OnnxEmbedder.load(tiny_export, variant="fp32", provider="cpu")
    ours = embedder.embed(TEXTS, batch_size=4)  # mixed lengths: exercises padding and the dynamic axes
    cosine = np.sum(ours * _torch_mean_pooled(model, TEXTS), axis=1)
    assert cosine.min() >= 0.9999, cosine


@pytest.mark.parametrize("variant", ["int8", "int8-token"])
def test_int8_model_runs_and_stays_close(tiny_export, variant):
    fp32 = OnnxEmbedder.load(tiny_export, variant="fp32").embed(TEXTS)
    int8 = OnnxEmbedder.load(tiny_export, variant=variant).embed(TEXTS)
    assert int8.shape == (len(TEXTS), 32)
    assert np.sum(int8 * fp32, axis=1).min() > 0.9


def test_manifest_records_dim_from_config_and_true_hashes(tiny_export):
    manifest = json.loads((tiny_export / "manifest.json").read_text())
    assert manifest["dim"] == 32 and manifest["max_tokens"] == 64 and manifest["pooling"] == "mean"
    assert set(manifest["files"]) == {"onnx/model.onnx", "onnx/model.int8.onnx", "onnx/model.int8-token.onnx",
                                      "tokenizer.json"}
    for rel, digest in manifest["files"].items():
        assert sha256_file(tiny_export / rel) == digest
    parity = manifest["parity"]
    assert parity["fp32_vs_torch_min_cosine"] >= 0.999 and 0 < parity["int8_vs_fp32_min_cosine"] <= 1
    assert 0 < parity["int8_token_vs_fp32_min_cosine"] <= 1


def test_sentence_transformers_folder_settings_are_read(tiny_source, tmp_path):
    """modules.json decides where the transformer is, its pooling and its max_seq_length."""
    folder, _ = tiny_source
    st_folder = tmp_path / "st"
    (st_folder / "0_Transformer").mkdir(parents=True)
    for path in folder.iterdir():
        (st_folder / "0_Transformer" / path.name).write_bytes(path.read_bytes())
    (st_folder / "0_Transformer" / "sentence_bert_config.json").write_text('{"max_seq_length": 48}')
    (st_folder / "1_Pooling").mkdir()
    (st_folder / "1_Pooling" / "config.json").write_text(
        '{"word_embedding_dimension": 32, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}')
    (st_folder / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "0_Transformer", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]))
    info = read_source(st_folder)
    assert info["model_dir"] == st_folder / "0_Transformer"
    assert (info["pooling"], info["max_seq_length"]) == ("cls", 48)


def test_cli_exports_a_folder(tiny_source, tmp_path, capsys):
    from training.cli import main

    folder, _ = tiny_source
    out = tmp_path / "cli-tiny"
    assert main(["export-embedder", "--source", str(folder), "--name", "tiny", "--out", str(out)]) == 0
    assert "written to" in capsys.readouterr().out
    assert OnnxEmbedder.load(out).embed(["vpn"]).shape == (1, 32)
    assert main(["export-embedder", "--source", str(tmp_path / "nope"), "--name", "x"]) == 2


def test_xlm_roberta_encoder_exports_too(tmp_path):
    """e5-base/large are XLM-RoBERTa: position ids derive from the padding, so padded batches must still match."""
    from transformers import XLMRobertaConfig, XLMRobertaModel

    torch.manual_seed(1)
    config = XLMRobertaConfig(vocab_size=4 + len(WORDS), hidden_size=48, num_hidden_layers=2, num_attention_heads=4,
                              intermediate_size=64, max_position_embeddings=66, pad_token_id=1)
    model = XLMRobertaModel(config).eval()
    model.save_pretrained(tmp_path / "src")
    PreTrainedTokenizerFast(tokenizer_object=_tiny_tokenizer(), pad_token="<pad>").save_pretrained(tmp_path / "src")
    export_embedder(tmp_path / "src", tmp_path / "out", name="xlmr", prefix="", progress=False)
    embedder = OnnxEmbedder.load(tmp_path / "out", variant="fp32")
    assert (embedder.dim, embedder.max_tokens) == (48, 64)  # 66 positions minus RoBERTa's offset of 2
    cosine = np.sum(embedder.embed(TEXTS, batch_size=4) * _torch_mean_pooled(model, TEXTS), axis=1)
    assert cosine.min() >= 0.9999
