"""The embedding model: any sentence-transformers folder loads, the default
one is found, and it understands Chinese paraphrases better than chance."""
from __future__ import annotations

import pytest

from actions.faq import embeddings
from actions.faq.embeddings import Embedder
from actions.faq.matcher import get_matcher, reset_matcher


def test_model_loads_from_a_path_and_matches_a_paraphrase(trained_model_dir, monkeypatch):
    monkeypatch.setenv("FAQ_EMBEDDING_MODEL", str(trained_model_dir))
    reset_matcher(None)
    try:
        matcher = get_matcher()
        assert matcher is not None and matcher.embedder.name == str(trained_model_dir)
        hits = matcher.search_vector(matcher.embed("东西寄出来要等几天"), 3)
        assert hits[0].key == "shipping_time"
    finally:
        reset_matcher(None)


def test_any_sentence_transformers_folder_loads(tmp_path, monkeypatch):
    """A transformer + pooling model (not our static one) built and saved locally."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"发货运费退款多久"])}
    raw = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    raw.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    hf_dir = tmp_path / "tiny-bert"
    BertModel(BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64)).save_pretrained(hf_dir)
    PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                            sep_token="[SEP]", mask_token="[MASK]").save_pretrained(hf_dir)
    transformer = Transformer(str(hf_dir))
    st_dir = tmp_path / "st-model"
    SentenceTransformer(modules=[transformer, Pooling(transformer.get_embedding_dimension())]).save(str(st_dir))

    monkeypatch.setenv("FAQ_EMBEDDING_MODEL", str(st_dir))
    assert embeddings.configured_model() == str(st_dir)
    vectors = Embedder(embeddings.configured_model())(["多久发货", "运费"])
    assert vectors.shape == (2, 32)


def test_default_model_is_the_one_trained_with_the_rasa_model(monkeypatch, tmp_path, trained_model_dir):
    monkeypatch.delenv("FAQ_EMBEDDING_MODEL", raising=False)
    import shutil

    from common.model_fingerprint import fingerprint

    target = embeddings.model_dir_for(fingerprint(), tmp_path)
    shutil.copytree(trained_model_dir, target)
    embeddings.model_dir_for("0000000000000000", tmp_path).mkdir()  # an unfinished folder is ignored
    assert embeddings.default_model_path(tmp_path) == target
    assert Embedder(str(target))(["积分会过期吗"]).shape[0] == 1


def test_without_any_model_the_matcher_is_off_not_broken(monkeypatch, tmp_path):
    monkeypatch.setenv("FAQ_EMBEDDING_MODEL", str(tmp_path / "missing"))
    reset_matcher(None)
    try:
        assert get_matcher() is None
    finally:
        reset_matcher(None)


@pytest.mark.parametrize("question, key", [
    ("买多少才不要邮费", "shipping_fee"),
    ("怀孕了还能用你们家的面霜吗", "pregnancy_safe"),
    ("积分有没有有效期", "points_expiry"),
    ("皮肤敏感可以用吗", "sensitive_skin"),
    ("快递到哪了一直没更新", "order_tracking"),
])
def test_paraphrases_find_their_faq(faq_matcher, question, key):
    hits = faq_matcher.search_vector(faq_matcher.embed(question), 3)
    assert key in [h.key for h in hits]
