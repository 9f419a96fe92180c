"""A Chinese tokenizer built from the project's data, saved inside the model.

Unigram model (Viterbi, like jieba's max-probability segmentation) over
  * every single character jieba's dictionary knows (plus ASCII), and
  * the jieba words (with the brand dictionary) that occur in the training data.
Known words come out whole, anything else falls back to characters, so typos
and unseen words still share characters with the FAQ phrasings. Scores are
log frequencies from jieba's dictionaries. Everything lives in tokenizer.json:
loading the model needs neither jieba nor this module.
"""
from __future__ import annotations

import math
import string
from pathlib import Path
from typing import Dict, Iterable

UNK = "[UNK]"
DEFAULT_FREQ = 3.0  # for words found only in our data


def _jieba_frequencies(userdict: Path | None) -> Dict[str, float]:
    import jieba

    freqs: Dict[str, float] = {}
    dict_path = Path(jieba.__file__).parent / "dict.txt"
    sources = [dict_path] + ([userdict] if userdict and userdict.is_file() else [])
    for source in sources:
        for line in source.read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                freqs[parts[0].lower()] = max(freqs.get(parts[0].lower(), 0.0), float(parts[1]))
    return freqs


def segment_words(texts: Iterable[str], userdict: Path | None) -> set:
    import jieba

    tok = jieba.Tokenizer()
    if userdict and userdict.is_file():
        tok.load_userdict(str(userdict))
    words = set()
    for text in texts:
        for word in tok.lcut(text.lower()):
            word = word.strip()
            if len(word) > 1 and not any(ch in string.punctuation or ch.isspace() for ch in word):
                words.add(word)
    return words


def build_tokenizer(texts: Iterable[str], userdict: Path | None = None):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    texts = list(texts)
    freqs = _jieba_frequencies(userdict)
    pieces: Dict[str, float] = {}
    for ch in list(string.ascii_lowercase + string.digits):
        pieces[ch] = freqs.get(ch, DEFAULT_FREQ)
    for word, freq in freqs.items():
        if len(word) == 1:
            pieces[word] = freq
    for text in texts:  # characters of our own data, even rare ones
        for ch in text.lower():
            if not ch.isspace():
                pieces.setdefault(ch, DEFAULT_FREQ)
    for word in segment_words(texts, userdict):
        pieces[word] = freqs.get(word, DEFAULT_FREQ)
    total = sum(pieces.values())
    vocab = [(UNK, 0.0)] + [(p, math.log(f / total)) for p, f in sorted(pieces.items())]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=0, byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()]
    )
    return tokenizer
