"""bot.console.data_history against real git repos made in tmp_path."""
from __future__ import annotations

import subprocess
import threading
from pathlib import Path
from typing import List

import pytest

from bot.console.data_history import DataHistory, HistoryError, parse_diff

OPS = ("王小明", "ops1@console.local")


@pytest.fixture(autouse=True)
def isolated_git(monkeypatch, tmp_path):
    # No global/system config: the tests must pass on a machine without a git
    # identity, and a developer's config (hooks, signing) must not leak in.
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("CONSOLE_DATA_WORKTREES_DIR", raising=False)
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME",
                 "GIT_COMMITTER_EMAIL", "EMAIL", "GIT_DIR", "GIT_INDEX_FILE"):
        monkeypatch.delenv(name, raising=False)


def git(repo: Path, *args: str, check: bool = True) -> str:
    proc = subprocess.run(
        ["git", "-c", "user.name=Dev", "-c", "user.email=dev@example.com",
         "-c", "core.quotepath=off", *args],
        cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {args} failed: {proc.stderr}")
    return proc.stdout


def write(repo: Path, rel: str, text: str) -> None:
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def repo(tmp_path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    write(root, "data/nlu.yml", "version: '3.1'\nnlu:\n- intent: greet\n  examples: |\n    - 你好\n")
    write(root, "domain.yml", "version: '3.1'\nintents:\n- greet\n")
    write(root, "personas/qiqi.yml", "name: 琪琪\n")
    write(root, "actions/faq/titles.yml", "a: 标题\n")
    write(root, "actions/code.py", "print('hi')\n")
    write(root, "README.md", "readme\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


def status(repo: Path) -> str:
    return git(repo, "status", "--porcelain=v1", "--untracked-files=all")


def lines(n: int, changed: dict = None) -> str:
    changed = changed or {}
    return "".join(f"{changed.get(i, f'line {i}')}\n" for i in range(n))


# ------------------------------------------------------------------ commit

def test_commit_is_authored_and_committed_by_the_ops_account(repo):
    history = DataHistory(repo)
    history.check_startable()
    write(repo, "data/nlu.yml", "version: '3.1'\nnlu: []\n")
    sha = history.commit(["data/nlu.yml"], "清空 NLU", *OPS)
    assert sha and len(sha) == 40
    assert git(repo, "log", "-1", "--format=%H|%an|%ae|%cn|%ce|%s").strip() == (
        f"{sha}|王小明|ops1@console.local|王小明|ops1@console.local|console: 清空 NLU")
    assert git(repo, "show", "--name-only", "--format=", sha).split() == ["data/nlu.yml"]
    assert status(repo) == ""  # index refreshed: nothing shows as staged or modified


def test_commit_leaves_unrelated_dirty_and_staged_files_alone(repo):
    history = DataHistory(repo)
    write(repo, "README.md", "developer is editing\n")            # unstaged, unrelated
    write(repo, "actions/code.py", "print('staged')\n")            # staged, unrelated
    git(repo, "add", "actions/code.py")
    write(repo, "domain.yml", "version: '3.1'\nintents: [greet, bye]\n")  # staged data file
    git(repo, "add", "domain.yml")
    write(repo, "data/new.yml", "version: '3.1'\n")                # untracked data file
    before = status(repo)

    write(repo, "personas/qiqi.yml", "name: 琪琪\nage: 3\n")
    sha = history.commit([repo / "personas/qiqi.yml"], "改人设", *OPS)

    assert git(repo, "show", "--name-only", "--format=", sha).split() == ["personas/qiqi.yml"]
    assert (repo / "README.md").read_text() == "developer is editing\n"
    assert (repo / "actions/code.py").read_text() == "print('staged')\n"
    assert sorted(git(repo, "diff", "--cached", "--name-only").split()) == ["actions/code.py", "domain.yml"]
    assert git(repo, "show", ":actions/code.py") == "print('staged')\n"
    assert git(repo, "diff", "--name-only").split() == ["README.md"]
    assert status(repo) == before  # the committed file no longer shows; nothing else moved
    assert "personas" not in before


def test_commit_without_change_returns_none(repo):
    history = DataHistory(repo)
    head = git(repo, "rev-parse", "HEAD")
    write(repo, "README.md", "dirty\n")
    assert history.commit(["data/nlu.yml"], "nothing", *OPS) is None
    assert history.commit(["data/missing.yml"], "nothing", *OPS) is None
    assert git(repo, "rev-parse", "HEAD") == head


def test_commit_adds_and_deletes_files(repo):
    history = DataHistory(repo)
    write(repo, "data/rules.yml", "rules: []\n")
    (repo / "actions/faq/titles.yml").unlink()
    sha = history.commit(["data/rules.yml", "actions/faq/titles.yml"], "add and delete", *OPS)
    assert git(repo, "show", "--name-status", "--format=", sha).split() == [
        "D", "actions/faq/titles.yml", "A", "data/rules.yml"]
    assert status(repo) == ""


def test_commit_refuses_paths_outside_the_data(repo):
    history = DataHistory(repo)
    for bad in ("actions/code.py", "../outside.yml", "data/../README.md", "/etc/passwd",
                "data/.git/config", ""):
        with pytest.raises(HistoryError):
            history.commit([bad], "bad", *OPS)
    with pytest.raises(HistoryError):
        history.commit(["data/nlu.yml"], "   ", *OPS)
    with pytest.raises(HistoryError):
        history.commit(["data/nlu.yml"], "x", "evil <x@y>", "x@y")
    with pytest.raises(HistoryError):
        history.commit(["data/nlu.yml"], "x", "ok", "not an email")


def test_concurrent_commits_both_land(repo):
    history = DataHistory(repo)
    errors: List[BaseException] = []
    shas: List[str] = []
    barrier = threading.Barrier(2)

    def edit(rel: str, text: str) -> None:
        try:
            write(repo, rel, text)
            barrier.wait()
            shas.append(history.commit([rel], f"edit {rel}", *OPS))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=edit, args=("data/a.yml", "a: 1\n")),
               threading.Thread(target=edit, args=("data/b.yml", "b: 2\n"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(shas) == 2 and all(shas)
    assert git(repo, "show", "HEAD:data/a.yml") == "a: 1\n"
    assert git(repo, "show", "HEAD:data/b.yml") == "b: 2\n"
    assert git(repo, "rev-list", "--count", "HEAD").strip() == "3"
    assert status(repo) == ""


# ------------------------------------------------------------- log / diff

def test_log_lists_data_commits_with_files(repo):
    history = DataHistory(repo)
    write(repo, "README.md", "code change\n")
    git(repo, "commit", "-qam", "docs only")
    write(repo, "domain.yml", "version: '3.1'\nintents: [greet, bye]\n")
    sha = history.commit(["domain.yml"], "加 bye 意图\n\n详细说明", *OPS)

    entries = history.log()
    assert [e["message"] for e in entries] == ["console: 加 bye 意图\n\n详细说明", "initial"]
    top = entries[0]
    assert top["sha"] == sha and sha.startswith(top["short"])
    assert top["author"] == "王小明" and top["email"] == "ops1@console.local"
    assert top["subject"] == "console: 加 bye 意图"
    assert top["date"][:4].isdigit() and "T" in top["date"]
    assert top["files"] == ["domain.yml"]
    assert sorted(entries[1]["files"]) == ["actions/faq/titles.yml", "data/nlu.yml",
                                           "domain.yml", "personas/qiqi.yml"]
    assert len(history.log(limit=1)) == 1
    assert [e["sha"] for e in history.log(paths=["personas"])] == [entries[1]["sha"]]


def test_diff_text_and_parsed_form(repo):
    history = DataHistory(repo)
    write(repo, "data/中文 文件.yml", "旧\n")
    history.commit(["data/中文 文件.yml"], "add", *OPS)
    write(repo, "data/中文 文件.yml", "新\n")
    write(repo, "data/nlu.yml", (repo / "data/nlu.yml").read_text() + "    - 您好\n")
    sha = history.commit(["data"], "edit two", *OPS)

    result = history.diff(sha[:8])
    assert result["sha"] == sha and result["truncated"] is False
    assert "+    - 您好" in result["text"] and "-旧" in result["text"]
    files = {f["file"]: f for f in result["files"]}
    assert set(files) == {"data/nlu.yml", "data/中文 文件.yml"}
    hunk = files["data/中文 文件.yml"]["hunks"][0]
    assert hunk["header"].startswith("@@ -1 +1 @@")
    assert hunk["lines"] == [{"kind": "-", "text": "旧"}, {"kind": "+", "text": "新"}]
    nlu_lines = files["data/nlu.yml"]["hunks"][0]["lines"]
    assert {"kind": "+", "text": "    - 您好"} in nlu_lines
    assert {"kind": " ", "text": "    - 你好"} in nlu_lines

    small = history.diff(sha, cap_bytes=120)
    assert small["truncated"] is True and len(small["text"].encode()) <= 120


def test_diff_is_limited_to_data_paths_and_marks_status(repo):
    history = DataHistory(repo)
    write(repo, "data/extra.yml", "x\n")
    write(repo, "README.md", "both\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "mixed")
    result = history.diff(git(repo, "rev-parse", "HEAD").strip())
    assert [(f["file"], f["status"]) for f in result["files"]] == [("data/extra.yml", "added")]
    assert "README" not in result["text"]
    root = history.diff(git(repo, "rev-list", "--max-parents=0", "HEAD").strip())
    assert {f["status"] for f in root["files"]} == {"added"}


def test_parse_diff_quoted_name_and_binary():
    text = ('diff --git "a/data/tab\\there.yml" "b/data/tab\\there.yml"\n'
            "index 1..2 100644\n--- \"a/data/tab\\there.yml\"\n+++ \"b/data/tab\\there.yml\"\n"
            "@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+b\n"
            "diff --git a/data/x.bin b/data/x.bin\ndeleted file mode 100644\n"
            "Binary files a/data/x.bin and /dev/null differ\n")
    files = parse_diff(text)
    assert files[0]["file"] == "data/tab\there.yml"
    assert files[0]["hunks"][0]["lines"] == [{"kind": "-", "text": "a"}, {"kind": "+", "text": "b"}]
    assert files[1] == {"file": "data/x.bin", "status": "deleted", "binary": True, "hunks": []}


@pytest.mark.parametrize("bad", ["--output=/tmp/pwned", "-p", "HEAD", "HEAD~1", "abc", "g" * 40,
                                 "a" * 41, "abcdef0 --", "1234567\n"])
def test_option_injection_sha_is_refused(repo, tmp_path, bad):
    history = DataHistory(repo)
    with pytest.raises(HistoryError):
        history.diff(bad)
    with pytest.raises(HistoryError):
        history.revert(bad, *OPS)
    assert not (tmp_path / "pwned").exists()


def test_unknown_sha_is_refused(repo):
    with pytest.raises(HistoryError, match="找不到提交"):
        DataHistory(repo).diff("deadbeef" * 5)


# ------------------------------------------------------------------ revert

def test_revert_restores_content_as_a_commit_by_the_account(repo):
    history = DataHistory(repo)
    old = (repo / "domain.yml").read_text()
    write(repo, "domain.yml", "version: '3.1'\nintents: []\n")
    write(repo, "data/new.yml", "new: true\n")
    sha = history.commit(["domain.yml", "data/new.yml"], "breaking edit", *OPS)
    write(repo, "README.md", "unrelated dirty\n")

    new = history.revert(sha[:10], "李四", "lisi@console.local")
    assert (repo / "domain.yml").read_text() == old
    assert not (repo / "data/new.yml").exists()
    assert git(repo, "log", "-1", "--format=%an|%ae|%cn|%ce|%s").strip() == (
        '李四|lisi@console.local|李四|lisi@console.local|console: revert "breaking edit"')
    assert f"This reverts commit {sha}." in git(repo, "log", "-1", "--format=%B")
    assert git(repo, "rev-parse", "HEAD").strip() == new
    assert git(repo, "show", "HEAD:domain.yml") == old
    assert status(repo) == " M README.md\n"


def test_revert_merges_with_later_changes_elsewhere_in_the_file(repo):
    history = DataHistory(repo)
    write(repo, "data/long.yml", lines(30))
    history.commit(["data/long.yml"], "add long", *OPS)
    write(repo, "data/long.yml", lines(30, {2: "changed early"}))
    target = history.commit(["data/long.yml"], "early", *OPS)
    write(repo, "data/long.yml", lines(30, {2: "changed early", 25: "changed late"}))
    history.commit(["data/long.yml"], "late", *OPS)

    history.revert(target, *OPS)
    assert (repo / "data/long.yml").read_text() == lines(30, {25: "changed late"})
    assert status(repo) == ""


def test_conflicting_revert_raises_and_changes_nothing(repo):
    history = DataHistory(repo)
    write(repo, "data/long.yml", lines(10))
    history.commit(["data/long.yml"], "add long", *OPS)
    write(repo, "data/long.yml", lines(10, {4: "first"}))
    target = history.commit(["data/long.yml"], "first", *OPS)
    write(repo, "data/long.yml", lines(10, {4: "second"}))
    history.commit(["data/long.yml"], "second", *OPS)
    write(repo, "README.md", "dirty\n")
    write(repo, "actions/code.py", "staged\n")
    git(repo, "add", "actions/code.py")
    before, head = status(repo), git(repo, "rev-parse", "HEAD")

    with pytest.raises(HistoryError) as err:
        history.revert(target, *OPS)
    assert err.value.paths == ["data/long.yml"] and "data/long.yml" in str(err.value)
    assert status(repo) == before and git(repo, "rev-parse", "HEAD") == head
    assert (repo / "data/long.yml").read_text() == lines(10, {4: "second"})
    assert not list((repo / ".git").glob("console-index-*"))


def test_revert_refuses_to_overwrite_uncommitted_changes(repo):
    history = DataHistory(repo)
    write(repo, "personas/qiqi.yml", "name: 琪琪\nage: 3\n")
    sha = history.commit(["personas/qiqi.yml"], "age", *OPS)
    write(repo, "personas/qiqi.yml", "name: 琪琪\nage: 4\n")  # someone's unsaved work
    before = status(repo)
    with pytest.raises(HistoryError, match="未提交") as err:
        history.revert(sha, *OPS)
    assert err.value.paths == ["personas/qiqi.yml"]
    assert status(repo) == before
    assert (repo / "personas/qiqi.yml").read_text() == "name: 琪琪\nage: 4\n"
    assert history.uncommitted() == ["personas/qiqi.yml"]


def test_revert_refuses_non_data_and_mixed_commits(repo):
    history = DataHistory(repo)
    write(repo, "README.md", "docs\n")
    git(repo, "commit", "-qam", "docs")
    with pytest.raises(HistoryError, match="不是数据改动"):
        history.revert(git(repo, "rev-parse", "HEAD").strip(), *OPS)
    write(repo, "README.md", "docs 2\n")
    write(repo, "domain.yml", "mixed\n")
    git(repo, "commit", "-qam", "mixed")
    with pytest.raises(HistoryError, match="数据以外") as err:
        history.revert(git(repo, "rev-parse", "HEAD").strip(), *OPS)
    assert err.value.paths == ["README.md"]
    assert status(repo) == ""


def test_revert_of_already_undone_change_is_refused(repo):
    history = DataHistory(repo)
    write(repo, "domain.yml", "v2\n")
    sha = history.commit(["domain.yml"], "v2", *OPS)
    history.revert(sha, *OPS)
    with pytest.raises(HistoryError, match="无需撤销"):
        history.revert(sha, *OPS)


# ------------------------------------------------------------- uncommitted

def test_uncommitted_lists_only_data_files(repo):
    history = DataHistory(repo)
    write(repo, "README.md", "x\n")
    write(repo, "data/nlu.yml", "changed\n")
    write(repo, "data/sub/new.yml", "new\n")
    write(repo, "domain.yml", "staged\n")
    git(repo, "add", "domain.yml")
    assert history.uncommitted() == ["data/nlu.yml", "data/sub/new.yml", "domain.yml"]
    assert history.uncommitted(["personas"]) == []


# ------------------------------------------------------------ startability

def test_check_startable_refuses_conflicts(repo):
    history = DataHistory(repo)
    git(repo, "checkout", "-q", "-b", "other")
    write(repo, "domain.yml", "other\n")
    git(repo, "commit", "-qam", "other")
    git(repo, "checkout", "-q", "main")
    write(repo, "domain.yml", "main\n")
    git(repo, "commit", "-qam", "main")
    git(repo, "merge", "other", check=False)
    with pytest.raises(HistoryError, match="冲突") as err:
        history.check_startable()
    assert err.value.paths == ["domain.yml"]
    write(repo, "data/nlu.yml", "edit\n")
    with pytest.raises(HistoryError):
        history.commit(["data/nlu.yml"], "during merge", *OPS)

    git(repo, "add", "domain.yml")  # resolved, but the merge is still in progress
    with pytest.raises(HistoryError, match="合并"):
        history.check_startable()
    git(repo, "merge", "--abort")
    history.check_startable()


def test_check_startable_refuses_a_non_repo(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(HistoryError, match="不是 git 仓库"):
        DataHistory(plain).check_startable()


# ------------------------------------------------------------- branch mode

def test_branch_mode_commits_in_a_worktree_without_touching_main(repo, tmp_path):
    write(repo, "README.md", "developer wip\n")
    main_head = git(repo, "rev-parse", "HEAD")
    before = status(repo)
    history = DataHistory(repo, branch="console/data", worktrees_dir=tmp_path / "wt")
    history.check_startable()
    wt = history.data_root
    assert wt == (tmp_path / "wt" / "console/data").resolve()
    assert git(wt, "rev-parse", "--abbrev-ref", "HEAD").strip() == "console/data"

    write(wt, "domain.yml", "on branch\n")
    sha = history.commit([wt / "domain.yml"], "branch edit", *OPS)
    assert git(repo, "rev-parse", "console/data").strip() == sha
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    assert git(repo, "rev-parse", "HEAD") == main_head
    assert (repo / "domain.yml").read_text() == "version: '3.1'\nintents:\n- greet\n"
    assert status(repo) == before
    assert history.log(limit=1)[0]["sha"] == sha
    with pytest.raises(HistoryError):  # a path of the main checkout is not ours
        history.commit([repo / "domain.yml"], "wrong tree", *OPS)

    again = DataHistory(repo, branch="console/data", worktrees_dir=tmp_path / "wt")
    again.check_startable()  # reuses the existing worktree
    history.revert(sha, *OPS)
    assert (wt / "domain.yml").read_text() == "version: '3.1'\nintents:\n- greet\n"
    assert git(repo, "rev-parse", "HEAD") == main_head


def test_branch_mode_uses_an_existing_branch_and_default_dir(repo):
    git(repo, "branch", "ops")
    write(repo, "domain.yml", "main moved on\n")
    git(repo, "commit", "-qam", "main moves")
    history = DataHistory(repo, branch="ops")
    history.check_startable()
    assert history.data_root == (repo / ".git" / "console-worktrees" / "ops").resolve()
    assert (history.data_root / "domain.yml").read_text() == "version: '3.1'\nintents:\n- greet\n"
    assert status(repo) == ""  # the worktree inside .git is invisible to the main checkout


def test_branch_mode_refuses_the_main_checkouts_branch_and_bad_names(repo):
    with pytest.raises(HistoryError, match="已在"):
        DataHistory(repo, branch="main").check_startable()
    for bad in ("-x", "--output=/tmp/x", "a..b", "a b", "x.lock"):
        with pytest.raises(HistoryError):
            DataHistory(repo, branch=bad)
