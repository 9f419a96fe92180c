"""Brand names come from the catalogue into the jieba dictionary and the NLU data."""
from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from bot import brand_vocab

ROOT = Path(__file__).resolve().parents[2]


def copy_project(tmp_path: Path) -> Path:
    for folder in ("data/catalog", "data/brand"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    (tmp_path / "data" / "jieba").mkdir(parents=True)
    (tmp_path / "data" / "nlu").mkdir(parents=True)
    return tmp_path


def generated(root: Path):
    words = {line.split(" ")[0] for line in (root / "data/jieba/brand.txt").read_text(encoding="utf-8").splitlines()}
    nlu = yaml.safe_load((root / "data/nlu/brand.yml").read_text(encoding="utf-8"))
    examples = {b["intent"]: [l[2:] for l in b["examples"].splitlines()] for b in nlu["nlu"]}
    return words, examples


def test_the_checked_in_files_match_the_catalogue():
    # make train regenerates them; a stale copy in git would train on old names
    assert brand_vocab.stale() is None


def test_every_campaign_name_and_alias_is_a_dictionary_word_and_a_lottery_example(tmp_path):
    root = copy_project(tmp_path)
    brand_vocab.write(root)
    words, examples = generated(root)
    campaigns = yaml.safe_load((root / "data/catalog/campaigns.yml").read_text(encoding="utf-8"))
    for lottery in campaigns["lotteries"]:
        for name in [lottery["name"], *lottery.get("aliases", [])]:
            assert name in words
            assert any(name in e for e in examples["lottery"]), name
    assert "黑卡" in words and any("黑卡" in e for e in examples["faq/member_levels"])
    assert "小绿瓶" in words


def test_renaming_a_campaign_renames_it_in_the_training_data(tmp_path):
    root = copy_project(tmp_path)
    path = root / "data/catalog/campaigns.yml"
    path.write_text(path.read_text(encoding="utf-8").replace("春日焕肤大转盘", "夏日清凉大转盘")
                    .replace("[春日转盘, 焕肤转盘, 春日大转盘, 春季转盘]", "[夏日转盘]"), encoding="utf-8")
    assert brand_vocab.write(root) is True
    words, examples = generated(root)
    assert {"夏日清凉大转盘", "夏日转盘"} <= words and "春日转盘" not in words
    lottery = " ".join(examples["lottery"])
    assert "夏日转盘" in lottery and "春日" not in lottery
    assert brand_vocab.write(root) is False  # idempotent: nothing to retrain for
