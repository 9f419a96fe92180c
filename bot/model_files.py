"""Which model belongs to the current training data, and training it if missing.

A model is named after a fingerprint of everything that shapes it (config,
domain, training data, Rasa version, and our NLU and FAQ training code:
common/model_fingerprint.py), so repeated test runs reuse it and any change to
them trains a new one.
"""
from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Dict, Iterator, Optional

from common import model_fingerprint
from common.model_fingerprint import RASA_VERSION, TRAINING_DATA_DIRS  # noqa: F401 (re-exported)

ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = ROOT / "models"


def training_data_args() -> list:
    return ["--data", *(d for d in TRAINING_DATA_DIRS if (ROOT / d).is_dir())]


def fingerprint() -> str:
    return model_fingerprint.fingerprint(ROOT)


def current_model_path() -> Path:
    return MODELS_DIR / f"nlu-core-{fingerprint()}.tar.gz"


def faq_embeddings_dir(model: Path) -> Path:
    """The FAQ embedding model trained with a Rasa model (issue 4)."""
    stem = model.name[: -len(".tar.gz")] if model.name.endswith(".tar.gz") else model.name
    return model.parent / f"faq-embeddings-{stem.rsplit('-', 1)[-1]}"


def train_faq_embeddings(model: Path, log: Optional[BinaryIO] = None, data_root: Optional[Path] = None) -> None:
    """In the action-server env (torch); cheap when the NLU data is unchanged.
    `data_root`: where data/nlu is (a console job's snapshot; default this checkout)."""
    actions_py = ROOT / ".venv" / "actions" / "bin" / "python"
    if not actions_py.is_file():
        print("==> no action-server environment: FAQ embeddings not trained", file=sys.stderr)
        return
    _run_logged(
        "FAQ embedding model",
        [str(actions_py), str(ROOT / "scripts" / "train_faq_embeddings.py"), "--out", str(faq_embeddings_dir(model)),
         "--data-root", str(data_root or ROOT)],
        {**os.environ, "PYTHONPATH": str(ROOT)},
        log,
    )


def _run_logged(what: str, args: list, env: dict, into: Optional[BinaryIO] = None) -> None:
    """Run a training step with its (very chatty) output in a log file; show
    the end of the log only when it fails. `into`: a log already open (a console job's)."""
    if into is not None:
        into.write(f"==> {what}\n".encode())
        into.flush()
        result = subprocess.run(args, cwd=ROOT, env=env, stdout=into, stderr=subprocess.STDOUT)
        if result.returncode != 0:
            raise subprocess.CalledProcessError(result.returncode, args)
        return
    log_path = ROOT / ".cache" / "train.log"
    log_path.parent.mkdir(exist_ok=True)
    print(f"==> {what} (log: {log_path.relative_to(ROOT)})", file=sys.stderr)
    with open(log_path, "ab") as log:
        result = subprocess.run(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        tail = log_path.read_text(errors="replace").splitlines()[-60:]
        print("\n".join(tail), file=sys.stderr)
        raise subprocess.CalledProcessError(result.returncode, args)


def _embeddings_ready(model: Path) -> bool:
    return (faq_embeddings_dir(model) / "modules.json").is_file()


def newest_model() -> Optional[Path]:
    models = sorted(MODELS_DIR.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return models[-1] if models else None


def rasa_cli() -> list:
    """Run Rasa from its own environment, whichever Python calls this."""
    return [str(ROOT / ".venv" / "rasa" / "bin" / "python"), "-m", "rasa"]


def refresh_generated_data() -> None:
    """The brand vocabulary comes from the catalogue (bot.brand_vocab): regenerate
    it before fingerprinting, so a renamed campaign trains a new model."""
    from bot import brand_vocab

    if brand_vocab.write():
        print("==> brand vocabulary regenerated from data/catalog", file=sys.stderr)


@contextmanager
def training_lock() -> Iterator[None]:
    """One training at a time on this machine (2 cores): `make train`, tests and
    console jobs wait here for each other."""
    MODELS_DIR.mkdir(exist_ok=True)
    with open(MODELS_DIR / ".train.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def train(validate: bool = True) -> Path:
    refresh_generated_data()
    with training_lock():
        target = current_model_path()
        if target.is_file():  # trained by whoever held the lock before us
            if not _embeddings_ready(target):
                train_faq_embeddings(target)
            return target
        return _train_locked(target, validate)


def training_times_path(model: Path) -> Path:
    """How long the model took to train (seconds per step), read by `make bench`."""
    return model.parent / f"{model.name[: -len('.tar.gz')]}.timing.json"


@contextmanager
def _timed(times: Dict[str, float], step: str) -> Iterator[None]:
    started = time.monotonic()
    yield
    times[f"{step}_s"] = round(time.monotonic() - started, 1)


def _train_locked(target: Path, validate: bool) -> Path:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    times: Dict[str, float] = {}
    if validate:
        with _timed(times, "validate"):
            _run_logged("validating the training data",
                        rasa_cli() + ["data", "validate", "--quiet"] + training_data_args(), env)
    with _timed(times, "rasa_train"):
        _run_logged(
            "training the Rasa model (a few minutes)",
            rasa_cli() + ["train", "--out", str(MODELS_DIR), "--fixed-model-name", target.name[: -len(".tar.gz")]]
            + training_data_args(),
            env,
        )
    with _timed(times, "faq_embeddings"):
        train_faq_embeddings(target)
    training_times_path(target).write_text(json.dumps(times))
    return target


def ensure_current_model() -> Path:
    refresh_generated_data()
    target = current_model_path()
    if target.is_file() and _embeddings_ready(target):
        print(f"==> model up to date: {target.relative_to(ROOT)}", file=sys.stderr)
        return target
    print("==> training data or config changed: training a model", file=sys.stderr)
    return train()


if __name__ == "__main__":
    ensure_current_model()
