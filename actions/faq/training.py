"""Train the default in-domain sentence-transformers model from our NLU data.

StaticEmbedding (mean of token vectors) over `tokenizer.build_tokenizer`,
trained with MultipleNegativesRankingLoss on paraphrase pairs: each batch
holds one (anchor, positive) pair from distinct classes, so in-batch
negatives are never paraphrases of the anchor. Small and fast on a CPU
(about a minute) and deterministic for a seed. The result is a standard
sentence-transformers folder: `SentenceTransformer(path)` loads it.
"""
from __future__ import annotations

import json
import logging
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import List, Optional, Sequence

from actions.faq.data import Examples
from actions.faq.tokenizer import build_tokenizer

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    dim: int = 256
    steps: int = 2000
    batch_classes: int = 48  # pairs per batch, each from a different class
    lr: float = 0.02
    scale: float = 20.0  # MNRL similarity scale
    char_dropout: float = 0.15  # drop characters of the anchor: typo robustness
    seed: int = 42


def _drop_chars(text: str, share: float, rng: random.Random) -> str:
    if share <= 0 or len(text) < 4:
        return text
    kept = [ch for ch in text if rng.random() >= share]
    return "".join(kept) or text


def _batches(classes: Examples, negatives: List[str], cfg: TrainConfig, rng: random.Random):
    names = sorted(classes)
    for _ in range(cfg.steps):
        chosen = rng.sample(names, min(cfg.batch_classes, len(names)))
        columns: List[List[str]] = [[], []]
        for name in chosen:
            a, p = rng.sample(classes[name], 2)
            columns[0].append(_drop_chars(a, cfg.char_dropout, rng))
            columns[1].append(p)
        if negatives:  # unrelated requests: pushed away from every class
            columns.append([rng.choice(negatives) for _ in chosen])
        yield columns


def train_model(classes: Examples, out_dir: Path, userdict: Optional[Path] = None,
                cfg: TrainConfig = TrainConfig(), negatives: Sequence[str] = ()):
    """Train on `classes` (name -> paraphrases) and save to `out_dir`; returns the model.
    `negatives` (e.g. out_of_scope examples) are extra in-batch negatives."""
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding

    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    rng = random.Random(cfg.seed)

    classes = {k: sorted(set(v)) for k, v in classes.items() if len(set(v)) >= 2}
    negatives = sorted(set(negatives))
    texts = [t for v in classes.values() for t in v] + negatives
    tokenizer = build_tokenizer(texts, userdict)
    static = StaticEmbedding(tokenizer, embedding_dim=cfg.dim)
    torch.nn.init.normal_(static.embedding.weight, std=0.1)
    model = SentenceTransformer(modules=[static], device="cpu")
    loss = MultipleNegativesRankingLoss(model, scale=cfg.scale)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)

    model.train()
    for step, columns in enumerate(_batches(classes, negatives, cfg, rng), start=1):
        features = [model.preprocess(column) for column in columns]
        value = loss(features, torch.empty(0))
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
        if step % 250 == 0:
            logger.info("step %d/%d loss %.4f", step, cfg.steps, value.item())
    model.eval()

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(str(out_dir))
    (out_dir / "faq_training.json").write_text(
        json.dumps({"config": asdict(cfg), "classes": len(classes), "examples": len(texts)}, indent=2)
    )
    return model
