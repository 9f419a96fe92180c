"""Train the default FAQ embedding model (action-server environment: torch).

    .venv/actions/bin/python scripts/train_faq_embeddings.py --out models/faq-embeddings-<fp>

Called by bot.model_files after the Rasa model, so both share a fingerprint.
Cheap when unchanged: the inputs (NLU data, jieba dictionary, training code)
have their own fingerprint; an existing model trained from the same inputs is
copied instead of retrained.
"""
from __future__ import annotations

import argparse
import hashlib
import logging
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from actions.faq.data import OUT_OF_SCOPE, paraphrase_classes, read_nlu  # noqa: E402

CODE = [ROOT / "actions" / "faq" / name for name in ("data.py", "tokenizer.py", "training.py")]
STAMP = "faq_inputs.sha256"


def inputs(data_root: Path) -> list:
    """What the model is trained from: the data (the checkout's, or a console job's
    snapshot) and the training code of this checkout."""
    return [(data_root, data_root / "data" / "nlu"), (data_root, data_root / "data" / "jieba")] + \
        [(ROOT, path) for path in CODE]


def inputs_fingerprint(data_root: Path = ROOT) -> str:
    digest = hashlib.sha256()
    for base, source in inputs(data_root):
        files = sorted(p for p in source.rglob("*") if p.is_file()) if source.is_dir() else [source]
        for path in files:
            digest.update(str(path.relative_to(base)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def stamp_of(folder: Path) -> str:
    path = folder / STAMP
    return path.read_text().strip() if path.is_file() and (folder / "modules.json").is_file() else ""


def main(argv: list) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--force", action="store_true", help="retrain even if unchanged")
    parser.add_argument("--data-root", type=Path, default=ROOT,
                        help="folder holding data/nlu and data/jieba (default: this checkout)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out: Path = args.out.resolve()
    data_root: Path = args.data_root.resolve()
    wanted = inputs_fingerprint(data_root)
    if not args.force:
        if stamp_of(out) == wanted:
            print(f"==> FAQ embeddings up to date: {out}", file=sys.stderr)
            return 0
        for other in sorted(out.parent.glob("faq-embeddings-*"), key=lambda p: -p.stat().st_mtime):
            if other != out and stamp_of(other) == wanted:
                shutil.rmtree(out, ignore_errors=True)
                shutil.copytree(other, out)
                print(f"==> FAQ embeddings unchanged: copied {other.name} -> {out.name}", file=sys.stderr)
                return 0
    from actions.faq.training import train_model

    print(f"==> training FAQ embeddings into {out}", file=sys.stderr)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    examples = read_nlu(sorted((data_root / "data" / "nlu").glob("*.yml")))
    train_model(paraphrase_classes(examples), tmp, data_root / "data" / "jieba" / "userdict.txt",
                negatives=examples.get(OUT_OF_SCOPE, []))
    (tmp / STAMP).write_text(wanted + "\n")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)  # readers never see a half-written model
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
