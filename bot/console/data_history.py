"""Git history of the bot's data files for the ops console (issue 13).

The repo's data files (DATA_PATHS) are the source of truth. Every edit made in
the console becomes a git commit authored *and* committed by the ops account,
the console lists those commits with their diffs, and a change can be reverted
from there.

Rules this module keeps, because the checkout is shared with developers:

- Nothing uncommitted is ever lost. `commit()` builds the new commit in a
  private, temporary index (plumbing: read-tree / add / write-tree /
  commit-tree / update-ref), so other people's staged and unstaged changes are
  not touched and never end up in a console commit; only the committed paths'
  entries of the real index are refreshed afterwards. `revert()` computes the
  reverted files with `git merge-file` on blobs before writing anything, so a
  revert that does not apply changes nothing at all.
- The branch of the main checkout is never switched. With `branch` set the
  console works in a `git worktree` of that branch (created on first use).
- The console refuses to start, commit or revert while the working tree has
  unmerged paths or a merge/rebase/cherry-pick/revert is in progress: a
  developer's half-done merge would otherwise silently drop console commits.
- Commits and reverts are serialised by an fcntl.flock lock file in the git
  directory: two console requests at once must not race on the index or ref.
- Shas are accepted only as 7-40 hex digits and every path goes after `--`
  with literal pathspecs: nothing from a request can become a git option.

All calls are blocking (subprocess); an async caller runs them in an executor.
Messages of HistoryError are shown to ops and are therefore in Chinese.
"""
from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

# Paths (relative to the checkout's top) whose history the console owns.
DATA_PATHS: Tuple[str, ...] = (
    "data",
    "domain.yml",
    "config.yml",
    "personas",
    "actions/faq/titles.yml",
)
COMMIT_PREFIX = "console: "
DIFF_CAP_BYTES = 200_000
LOCK_NAME = "console-data.lock"
WORKTREES_ENV = "CONSOLE_DATA_WORKTREES_DIR"
UNCOMMITTED_WARNING = "有未提交的改动，不会被覆盖"

_SHA = re.compile(r"^[0-9a-fA-F]{7,40}$")
# Stricter than git's own rules on purpose: the name also becomes a directory.
_BRANCH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")
_EMAIL = re.compile(r"^[^\s<>@]+@[^\s<>@]+$")
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+\d+(?:,\d+)? @@")
_ZERO_SHA = "0" * 40
_REGULAR_MODES = ("100644", "100755")
# Variables that would point git at another repo, index or config than ours
# (the console may itself be started from inside a git hook or a test).
_GIT_LOCATION_ENV = (
    "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_PREFIX",
    "GIT_NAMESPACE", "GIT_IMPLICIT_WORK_TREE", "GIT_GRAFT_FILE",
    "GIT_SHALLOW_FILE", "GIT_REPLACE_REF_BASE", "GIT_NO_REPLACE_OBJECTS",
    "GIT_INTERNAL_SUPER_PREFIX", "GIT_CONFIG", "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
)

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)


class HistoryError(Exception):
    """A refusal or failure to show to ops; `paths` are the files concerned."""

    def __init__(self, message: str, paths: Sequence[str] = ()) -> None:
        self.paths = list(paths)
        if self.paths:
            message = f"{message}：{'、'.join(self.paths)}"
        super().__init__(message)


class DataHistory:
    """Commits, history, diffs and reverts of the data files of one checkout.

    `root` is the top of the main checkout. With `branch`, the console works in
    a worktree of that branch at `<worktrees_dir>/<branch>`; `worktrees_dir`
    defaults to $CONSOLE_DATA_WORKTREES_DIR, else `console-worktrees` inside the
    repo's git directory (git ignores it there, so the main checkout shows no
    untracked directory). Call `check_startable()` once before serving.
    """

    def __init__(
        self,
        root: Path,
        branch: Optional[str] = None,
        *,
        worktrees_dir: Optional[Path] = None,
        data_paths: Sequence[str] = DATA_PATHS,
        lock_timeout_s: float = 30.0,
    ) -> None:
        self.root = Path(root).resolve()
        if branch is not None and (not _BRANCH.match(branch) or ".." in branch
                                   or branch.endswith((".lock", "/", "."))):
            raise HistoryError(f"分支名不合法：{branch!r}")
        self.branch = branch
        env_dir = os.environ.get(WORKTREES_ENV)
        self._worktrees_dir = Path(worktrees_dir or env_dir) if (worktrees_dir or env_dir) else None
        self.data_paths = tuple(data_paths)
        self.lock_timeout_s = lock_timeout_s

    # ------------------------------------------------------------------ setup

    @property
    def data_root(self) -> Path:
        """Where the console reads and writes data files: the branch's worktree
        in branch mode, the main checkout otherwise."""
        if self.branch is None:
            return self.root
        base = self._worktrees_dir or (self._common_dir(self.root) / "console-worktrees")
        return (Path(base) / self.branch).resolve()

    def check_startable(self) -> None:
        """Refuse to start on a checkout that is not a repo or is mid-conflict;
        in branch mode also make sure the branch's worktree exists."""
        top = self._toplevel(self.root)
        if top != self.root:
            raise HistoryError(f"{self.root} 不是 git 仓库的根目录（根目录是 {top}）")
        if self.branch is not None:
            self._ensure_worktree()
        self._refuse_conflicts()

    def _toplevel(self, where: Path) -> Path:
        if not where.is_dir():
            raise HistoryError(f"{where} 不存在或不是目录")
        proc = self._run(["rev-parse", "--show-toplevel"], cwd=where, check=False)
        if proc.returncode != 0:
            raise HistoryError(f"{where} 不是 git 仓库，控制台不能记录数据改动")
        return Path(proc.stdout.decode("utf-8", "surrogateescape").strip()).resolve()

    def _common_dir(self, where: Path) -> Path:
        out = self._git(["rev-parse", "--path-format=absolute", "--git-common-dir"], cwd=where)
        return Path(out.strip())

    def _ensure_worktree(self) -> None:
        """Create (or find) the worktree of `self.branch`; never touches the
        main checkout's branch, index or files."""
        assert self.branch is not None
        path = self.data_root
        ref = f"refs/heads/{self.branch}"
        self._git(["worktree", "prune"], cwd=self.root)  # drop registrations of deleted dirs
        for entry in self._worktrees():
            if entry.get("branch") == ref:
                if Path(entry["worktree"]).resolve() == path:
                    return
                raise HistoryError(
                    f"分支 {self.branch} 已在 {entry['worktree']} 检出，"
                    f"控制台不能在 {path} 另建工作目录")
        if path.exists():
            raise HistoryError(f"{path} 已存在，但不是分支 {self.branch} 的工作目录")
        path.parent.mkdir(parents=True, exist_ok=True)
        exists = self._run(["show-ref", "--verify", "--quiet", "--", ref],
                           cwd=self.root, check=False).returncode == 0
        if exists:
            args = ["worktree", "add", "--", str(path), self.branch]
        else:
            # A new branch starts from whatever the main checkout has committed.
            args = ["worktree", "add", "-b", self.branch, "--", str(path), "HEAD"]
        proc = self._run(args, cwd=self.root, check=False)
        if proc.returncode != 0:
            raise HistoryError(f"无法为分支 {self.branch} 建立工作目录 {path}："
                               f"{_text(proc.stderr).strip()}")

    def _worktrees(self) -> List[Dict[str, str]]:
        out = self._git(["worktree", "list", "--porcelain"], cwd=self.root)
        entries: List[Dict[str, str]] = []
        for block in out.split("\n\n"):
            entry: Dict[str, str] = {}
            for line in block.splitlines():
                key, _, value = line.partition(" ")
                entry[key] = value
            if "worktree" in entry:
                entries.append(entry)
        return entries

    def _refuse_conflicts(self) -> None:
        """Raise if the working tree has unmerged paths or an operation in progress."""
        where = self.data_root
        if not where.is_dir():
            raise HistoryError(f"工作目录 {where} 不存在，请先启动控制台（check_startable）")
        self._toplevel(where)
        records = _split_z(self._git(["ls-files", "-u", "-z"], cwd=where))  # "mode sha stage\tpath"
        unmerged = sorted({r.partition("\t")[2] for r in records})
        if unmerged:
            raise HistoryError("工作目录有未解决的冲突，控制台拒绝启动", unmerged)
        states = {
            "MERGE_HEAD": "合并（merge）",
            "rebase-merge": "变基（rebase）",
            "rebase-apply": "变基（rebase）或 git am",
            "CHERRY_PICK_HEAD": "拣选（cherry-pick）",
            "REVERT_HEAD": "撤销（revert）",
            "sequencer": "拣选或撤销序列",
        }
        for name, label in states.items():
            marker = self._git(["rev-parse", "--path-format=absolute", "--git-path", name], cwd=where).strip()
            if Path(marker).exists():
                raise HistoryError(f"{where} 正在进行{label}，请先完成或中止，控制台拒绝启动")

    # ----------------------------------------------------------------- commit

    def commit(self, paths: Sequence[PathLike], message: str,
               author_name: str, author_email: str) -> Optional[str]:
        """Commit exactly `paths` (their working-tree content) as the ops account.

        Returns the new sha, or None when none of the paths differs from HEAD.
        Other files, staged or not, are neither committed nor touched.
        """
        rels = [self._data_rel(p) for p in paths]
        if not rels:
            raise HistoryError("没有指定要提交的文件")
        text = self._message(message)
        env = self._identity(author_name, author_email)
        with self._locked():
            self._refuse_conflicts()
            head = self._head()
            tracked = set(_split_z(self._git(
                ["ls-tree", "-r", "-z", "--name-only", head, "--", *rels]))) if head else set()
            # `git add` rejects a pathspec that matches nothing: keep paths that
            # exist on disk or in HEAD (a deleted file is a change to commit).
            live = [r for r in rels if (self.data_root / r).exists()
                    or any(t == r or t.startswith(r + "/") for t in tracked)]
            if not live:
                return None
            with self._temp_index(head) as index_env:
                self._git(["add", "-A", "--", *live], env=index_env)
                tree = self._git(["write-tree"], env=index_env).strip()
            if head and tree == self._git(["rev-parse", f"{head}^{{tree}}"]).strip():
                return None
            sha = self._commit_tree(tree, head, text, env)
            self._sync_index(sha, live)
            return sha

    def _sync_index(self, sha: str, rels: Sequence[str]) -> None:
        """Point the real index's entries of `rels` at the new commit (their
        working-tree content is what was committed). Left stale, `git status`
        would show the old content as staged and a developer's next commit
        would quietly undo the console's change."""
        for attempt in range(20):
            proc = self._run(["reset", "-q", sha, "--", *rels], check=False)
            if proc.returncode == 0:
                return
            time.sleep(0.1)  # most likely a developer's git holds index.lock
        logger.warning("commit %s made, but the index of %s could not be refreshed: %s",
                       sha, rels, _text(proc.stderr).strip())

    def _commit_tree(self, tree: str, head: Optional[str], message: str,
                     env: Dict[str, str]) -> str:
        args = ["commit-tree", tree] + (["-p", head] if head else [])
        sha = self._git(args, input_=message.encode("utf-8"), env=env).strip()
        # Compare-and-swap: if someone committed meanwhile, refuse instead of
        # dropping their commit from the branch.
        proc = self._run(["update-ref", "-m", message.splitlines()[0], "HEAD", sha, head or _ZERO_SHA],
                         env=env, check=False)  # env: the reflog names the ops account too
        if proc.returncode != 0:
            raise HistoryError("提交期间分支被他人更新，请刷新后重试")
        return sha

    # -------------------------------------------------------------------- log

    def log(self, limit: int = 50, paths: Optional[Sequence[str]] = None) -> List[Dict[str, Any]]:
        """The latest `limit` commits of data_root's HEAD that touch `paths`
        (default: the data paths), newest first; `files` lists only the data
        files each one changed."""
        limit = max(1, min(int(limit), 1000))
        if self._head() is None:
            return []
        rels = [self._data_rel(p) for p in (paths or self.data_paths)]
        fmt = "%x1e%H%x1f%h%x1f%an%x1f%ae%x1f%aI%x1f%B%x1f"
        out = self._git(["log", "-z", "--no-renames", "--name-only", f"--format={fmt}",
                         "-n", str(limit), "--", *rels])
        entries: List[Dict[str, Any]] = []
        for chunk in out.split("\x1e")[1:]:
            fields = chunk.split("\x1f", 6)
            if len(fields) < 7:
                continue
            sha, short, author, email, date, body, rest = fields
            files = [f for f in rest.lstrip("\0\n").split("\0") if f]
            entries.append({
                "sha": sha, "short": short, "author": author, "email": email,
                "date": date, "message": body.strip(), "subject": body.strip().split("\n", 1)[0],
                "files": files,
            })
        return entries

    # ------------------------------------------------------------------- diff

    def diff(self, sha: str, cap_bytes: int = DIFF_CAP_BYTES) -> Dict[str, Any]:
        """The data-path part of commit `sha` as unified diff text (capped at
        `cap_bytes`, cut at a line boundary, `truncated` set) and parsed into
        files/hunks/lines for the page."""
        full = self._resolve(sha)
        parent = self._first_parent(full)
        rels = list(self.data_paths)
        base = ["diff-tree", "-r", "-p", "--no-renames", "--no-color", "--no-ext-diff", "--no-textconv"]
        args = base + ([parent, full] if parent else ["--root", "--no-commit-id", full]) + ["--", *rels]
        raw = self._run(args).stdout
        truncated = len(raw) > cap_bytes
        if truncated:
            cut = raw.rfind(b"\n", 0, cap_bytes)
            raw = raw[: cut + 1 if cut >= 0 else cap_bytes]
        text = raw.decode("utf-8", "replace")
        return {"sha": full, "text": text, "truncated": truncated, "files": parse_diff(text)}

    # ----------------------------------------------------------------- revert

    def revert(self, sha: str, author_name: str, author_email: str) -> str:
        """Undo data commit `sha` with a new commit by the ops account.

        Refused (HistoryError, nothing changed) for merge commits, commits not on
        this branch, commits touching non-data files, when a touched file has
        uncommitted changes, or when a later commit changed the same lines.
        """
        full = self._resolve(sha)
        env = self._identity(author_name, author_email)
        with self._locked():
            self._refuse_conflicts()
            head = self._head()
            if head is None or self._run(["merge-base", "--is-ancestor", full, head],
                                         check=False).returncode != 0:
                raise HistoryError(f"提交 {full[:10]} 不在当前分支的历史中，不能撤销")
            parents = self._git(["rev-list", "--parents", "-n", "1", full]).split()[1:]
            if len(parents) > 1:
                raise HistoryError(f"提交 {full[:10]} 是合并提交，请由开发人员撤销")
            parent = parents[0] if parents else None
            changed = self._changed_files(parent, full)
            outside = [f for f in changed if not self._is_data(f)]
            if not changed or len(outside) == len(changed):
                raise HistoryError(f"提交 {full[:10]} 不是数据改动，控制台不能撤销")
            if outside:
                raise HistoryError(f"提交 {full[:10]} 还改动了数据以外的文件，请由开发人员撤销", outside)
            dirty = self._status_paths(changed)
            if dirty:
                raise HistoryError("撤销会覆盖未提交的改动，已取消", dirty)
            updates, conflicts = self._reverted_files(changed, full, parent, head)
            if conflicts:
                raise HistoryError("后来的改动修改了相同的内容，无法自动撤销", conflicts)
            if not updates:
                raise HistoryError(f"提交 {full[:10]} 的改动已不存在，无需撤销")
            subject = self._git(["log", "-1", "--format=%s", full]).strip()
            message = self._message(f'revert "{_strip_prefix(subject)}"\n\nThis reverts commit {full}.')
            with self._temp_index(head) as index_env:
                lines = []
                for path, entry in updates.items():
                    # Mode 0 with the null sha removes the entry (update-index docs).
                    mode, blob = entry if entry else ("0", _ZERO_SHA)
                    lines.append(f"{mode} {blob}\t{path}\0")
                self._git(["update-index", "-z", "--index-info"],
                          input_="".join(lines).encode("utf-8", "surrogateescape"), env=index_env)
                tree = self._git(["write-tree"], env=index_env).strip()
            new = self._commit_tree(tree, head, message, env)
            # The touched files were verified clean: bring them (and only them)
            # in line with the new commit, in both the index and the tree.
            present = [p for p, e in updates.items() if e]
            removed = [p for p, e in updates.items() if not e]
            if present:
                self._git(["checkout", new, "--", *present])
            if removed:
                self._git(["rm", "-q", "--cached", "--ignore-unmatch", "--", *removed])
                for p in removed:
                    with contextlib.suppress(FileNotFoundError):
                        (self.data_root / p).unlink()
            return new

    def _reverted_files(
        self, files: Sequence[str], sha: str, parent: Optional[str], head: str,
    ) -> Tuple[Dict[str, Optional[Tuple[str, str]]], List[str]]:
        """Per file, the (mode, blob) HEAD should get to undo `sha` (None: delete
        it), computed as a 3-way merge (ours=HEAD, base=sha, theirs=sha^) like
        `git revert`, without touching the index or the working tree."""
        updates: Dict[str, Optional[Tuple[str, str]]] = {}
        conflicts: List[str] = []
        for path in files:
            base = self._entry(sha, path)       # content after the commit
            theirs = self._entry(parent, path)  # content before the commit
            ours = self._entry(head, path)      # content now
            if ours == theirs:
                continue  # already back to the old content
            if ours == base:
                updates[path] = theirs  # untouched since: restore (or delete)
                continue
            if ours is None or base is None or theirs is None:
                conflicts.append(path)  # added/deleted on one side, changed on the other
                continue
            if not all(e[0] in _REGULAR_MODES for e in (ours, base, theirs)):
                conflicts.append(path)
                continue
            merged = self._merge_blobs(ours[1], base[1], theirs[1])
            if merged is None:
                conflicts.append(path)
                continue
            blob = self._git(["hash-object", "-w", "--stdin"], input_=merged).strip()
            updates[path] = (ours[0], blob)
        return updates, conflicts

    def _merge_blobs(self, ours: str, base: str, theirs: str) -> Optional[bytes]:
        """`git merge-file` of three blobs; None if it leaves conflicts."""
        with tempfile.TemporaryDirectory(prefix="console-revert-") as tmp:
            names = []
            for label, blob in (("ours", ours), ("base", base), ("theirs", theirs)):
                file = Path(tmp) / label
                file.write_bytes(self._run(["cat-file", "blob", blob]).stdout)
                names.append(str(file))
            proc = self._run(["merge-file", "-p", "--", *names], check=False)
            return proc.stdout if proc.returncode == 0 else None

    def _entry(self, commit: Optional[str], path: str) -> Optional[Tuple[str, str]]:
        if commit is None:
            return None
        out = self._run(["ls-tree", "-z", commit, "--", path]).stdout
        for record in _split_z(_text(out)):
            meta, _, name = record.partition("\t")
            if name == path:
                mode, _kind, blob = meta.split()
                return mode, blob
        return None

    # ------------------------------------------------------------ uncommitted

    def uncommitted(self, paths: Optional[Sequence[str]] = None) -> List[str]:
        """Files among `paths` (default: the data paths) that differ from HEAD (staged, unstaged or
        untracked). The console shows them with UNCOMMITTED_WARNING."""
        return self._status_paths([self._data_rel(p) for p in (paths or self.data_paths)])

    def _status_paths(self, rels: Sequence[str]) -> List[str]:
        out = self._git(["status", "--porcelain=v1", "-z", "--untracked-files=all",
                         "--ignore-submodules", "--", *rels])
        records = out.split("\0")
        found: List[str] = []
        i = 0
        while i < len(records):
            record = records[i]
            i += 1
            if len(record) < 4:
                continue
            found.append(record[3:])
            if record[0] in "RC":
                i += 1  # the rename's source path follows as its own record
        return sorted(set(found))

    # ---------------------------------------------------------------- helpers

    def _data_rel(self, path: PathLike) -> str:
        """`path` relative to data_root as a posix string, refused unless it is
        inside one of the data paths (no `..`, no `.git`, no absolute escape)."""
        raw = str(path)
        if not raw or "\0" in raw or "\n" in raw:
            raise HistoryError(f"文件路径不合法：{raw!r}")
        p = Path(raw)
        if p.is_absolute():
            try:
                p = p.relative_to(self.data_root)
            except ValueError:
                raise HistoryError(f"文件不在数据目录 {self.data_root} 中：{raw}") from None
        rel = os.path.normpath(p.as_posix())
        parts = rel.split("/")
        if rel in (".", "") or parts[0] == ".." or ".git" in parts:
            raise HistoryError(f"文件路径不合法：{raw}")
        if not self._is_data(rel):
            raise HistoryError(f"不是控制台管理的数据文件：{rel}")
        return rel

    def _is_data(self, rel: str) -> bool:
        return any(rel == d or rel.startswith(d.rstrip("/") + "/") for d in self.data_paths)

    def _resolve(self, sha: str) -> str:
        """Full sha of commit `sha`, which must be 7-40 hex digits."""
        if not isinstance(sha, str) or not _SHA.match(sha):
            raise HistoryError(f"提交编号不合法：{str(sha)[:60]!r}")
        proc = self._run(["rev-parse", "--verify", "--quiet", "--end-of-options",
                          f"{sha}^{{commit}}"], check=False)
        full = _text(proc.stdout).strip()
        # A branch or tag named like hex would also resolve: insist on a sha.
        if proc.returncode != 0 or not full.startswith(sha.lower()):
            raise HistoryError(f"找不到提交 {sha}")
        return full

    def _first_parent(self, sha: str) -> Optional[str]:
        parents = self._git(["rev-list", "--parents", "-n", "1", sha]).split()[1:]
        return parents[0] if parents else None

    def _changed_files(self, parent: Optional[str], sha: str) -> List[str]:
        args = ["diff-tree", "-r", "-z", "--name-only", "--no-renames"]
        args += [parent, sha] if parent else ["--root", "--no-commit-id", sha]
        return [f for f in _split_z(self._git(args)) if f != sha]

    def _head(self) -> Optional[str]:
        proc = self._run(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], check=False)
        return _text(proc.stdout).strip() if proc.returncode == 0 else None

    @staticmethod
    def _message(message: str) -> str:
        # Control characters would garble `git log` parsing and the page.
        text = "".join(c for c in str(message) if c in "\n\t" or c >= " ").strip()
        if not text:
            raise HistoryError("提交说明不能为空")
        text = text[:2000]
        if not text.startswith(COMMIT_PREFIX.strip()):
            text = COMMIT_PREFIX + text
        return text + "\n"

    @staticmethod
    def _identity(name: str, email: str) -> Dict[str, str]:
        """Author and committer are both the ops account."""
        name = (name or "").strip()
        email = (email or "").strip()
        if not name or any(c in name for c in "<>\n\r\0") or len(name) > 128:
            raise HistoryError(f"提交人名称不合法：{name!r}")
        if not _EMAIL.match(email) or len(email) > 254:
            raise HistoryError(f"提交人邮箱不合法：{email!r}")
        return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
                "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}

    @contextlib.contextmanager
    def _temp_index(self, head: Optional[str]) -> Iterator[Dict[str, str]]:
        """A throw-away index holding HEAD's tree, so building a commit never
        reads or changes what people have staged in the real index."""
        git_dir = Path(self._git(["rev-parse", "--path-format=absolute", "--git-dir"]).strip())
        fd, name = tempfile.mkstemp(prefix="console-index-", dir=git_dir)
        os.close(fd)
        os.unlink(name)  # git wants to create it itself
        env = {"GIT_INDEX_FILE": name}
        try:
            self._git(["read-tree", head] if head else ["read-tree", "--empty"], env=env)
            yield env
        finally:
            for leftover in (name, name + ".lock"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(leftover)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Exclusive flock on `<git common dir>/console-data.lock`. flock (not
        lockf) locks per open file, so threads of one process exclude each
        other as well as other processes."""
        path = self._common_dir(self.data_root) / LOCK_NAME
        with open(path, "a+b") as handle:
            deadline = time.monotonic() + self.lock_timeout_s
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise HistoryError("数据仓库正忙（另一个提交还没完成），请稍后重试") from None
                    time.sleep(0.05)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _git(self, args: List[str], *, cwd: Optional[Path] = None,
             env: Optional[Dict[str, str]] = None, input_: Optional[bytes] = None,
             check: bool = True) -> str:
        return _text(self._run(args, cwd=cwd, env=env, input_=input_, check=check).stdout)

    def _run(self, args: List[str], *, cwd: Optional[Path] = None,
             env: Optional[Dict[str, str]] = None, input_: Optional[bytes] = None,
             check: bool = True) -> subprocess.CompletedProcess:
        full_env = {k: v for k, v in os.environ.items() if k not in _GIT_LOCATION_ENV}
        # Literal pathspecs: a file named `*` or `:(glob)x` means just that file.
        full_env.update({"GIT_LITERAL_PATHSPECS": "1", "GIT_TERMINAL_PROMPT": "0",
                         "LC_ALL": "C", "GIT_OPTIONAL_LOCKS": "0"})
        full_env.update(env or {})
        proc = subprocess.run(
            ["git", "-c", "core.quotepath=off", *args],
            cwd=str(cwd or self.data_root), env=full_env, input=input_,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60,
        )
        if check and proc.returncode != 0:
            raise HistoryError(f"git {args[0]} 失败：{_text(proc.stderr).strip()[:500]}")
        return proc


def parse_diff(text: str) -> List[Dict[str, Any]]:
    """Unified diff text (git, --no-renames) → [{file, status, binary, hunks:
    [{header, lines: [{kind: '+'|'-'|' ', text}]}]}] for rendering without
    parsing in the page."""
    files: List[Dict[str, Any]] = []
    current: Optional[Dict[str, Any]] = None
    hunk: Optional[Dict[str, Any]] = None
    for line in text.split("\n"):
        if line.startswith("diff --git "):
            current = {"file": _header_path(line[len("diff --git "):]), "status": "modified",
                       "binary": False, "hunks": []}
            files.append(current)
            hunk = None
        elif current is None:
            continue
        elif hunk is None and line.startswith("new file mode"):
            current["status"] = "added"
        elif hunk is None and line.startswith("deleted file mode"):
            current["status"] = "deleted"
        elif hunk is None and line.startswith("Binary files "):
            current["binary"] = True
        elif _HUNK.match(line):
            hunk = {"header": line, "lines": []}
            current["hunks"].append(hunk)
        elif hunk is not None and line[:1] in ("+", "-", " "):
            hunk["lines"].append({"kind": line[0], "text": line[1:]})
        # "\ No newline at end of file", index/mode lines and --- / +++ need no rendering.
    return files


def _header_path(rest: str) -> str:
    """The path of `a/P b/P` (same path on both sides without renames),
    C-quoted by git when it holds special characters."""
    if rest.startswith('"'):
        return _unquote(rest)[2:]
    length = (len(rest) - 5) // 2
    return rest[2:2 + length]


def _unquote(quoted: str) -> str:
    """The first C-quoted string of `quoted` (git's quoting of odd file names)."""
    out = bytearray()
    i = 1
    escapes = {"n": 10, "t": 9, '"': 34, "\\": 92, "a": 7, "b": 8, "f": 12, "r": 13, "v": 11}
    while i < len(quoted) and quoted[i] != '"':
        c = quoted[i]
        if c == "\\" and i + 1 < len(quoted):
            nxt = quoted[i + 1]
            if nxt in "01234567" and i + 3 < len(quoted):
                out.append(int(quoted[i + 1:i + 4], 8) & 0xFF)
                i += 4
                continue
            out.append(escapes.get(nxt, ord(nxt) & 0xFF))
            i += 2
            continue
        out.extend(c.encode("utf-8"))
        i += 1
    return out.decode("utf-8", "replace")


def _strip_prefix(subject: str) -> str:
    return subject[len(COMMIT_PREFIX):] if subject.startswith(COMMIT_PREFIX) else subject


def _split_z(out: str) -> List[str]:
    return [part for part in out.split("\0") if part]


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")
