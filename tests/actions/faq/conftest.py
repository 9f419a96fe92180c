"""FAQ action-side tests: an embedding model that understands our FAQ (the
default one trained by `make train`, or a small one trained here from the same
data when none exists yet). Redis fixtures come from tests/actions/conftest.py."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

os.environ["FAQ_WARMUP"] = "0"  # tests install their own matcher

from actions.faq.embeddings import Embedder, default_model_path  # noqa: E402
from actions.faq.matcher import FaqMatcher, reset_matcher  # noqa: E402


@pytest.fixture(scope="session")
def trained_model_dir(tmp_path_factory) -> Path:
    """A model folder trained from our NLU data (short training: same recipe)."""
    from actions.faq.data import ROOT, paraphrase_classes, read_nlu
    from actions.faq.training import TrainConfig, train_model

    out = tmp_path_factory.mktemp("faq-model") / "model"
    train_model(paraphrase_classes(read_nlu()), out, ROOT / "data" / "jieba" / "userdict.txt",
                TrainConfig(steps=600))
    return out


@pytest.fixture(scope="session")
def embedder(trained_model_dir) -> Embedder:
    path = default_model_path()
    return Embedder(str(path) if path else str(trained_model_dir))


@pytest.fixture(scope="session")
def faq_matcher(embedder) -> FaqMatcher:
    return FaqMatcher(embedder)


@pytest.fixture
def installed_matcher(faq_matcher) -> Iterator[FaqMatcher]:
    reset_matcher(faq_matcher)
    yield faq_matcher
    reset_matcher(None)
