"""`common/` is the one package both runtimes import: it must not pull in
either runtime (rasa, rasa_sdk, sanic, torch) nor `bot`/`actions`."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

COMMON = Path(__file__).resolve().parents[2] / "common"
FORBIDDEN = ("rasa", "rasa_sdk", "sanic", "torch", "tensorflow", "sentence_transformers", "bot", "actions")


def imported_roots(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0]


def test_common_modules_import_nothing_from_either_runtime():
    modules = sorted(COMMON.glob("*.py"))
    assert len(modules) >= 4
    offenders = {p.name: sorted(set(imported_roots(p)) & set(FORBIDDEN)) for p in modules}
    assert not any(offenders.values()), offenders


def test_common_imports_in_a_bare_interpreter_without_loading_a_runtime():
    # Import every module, then check that no runtime module got loaded as a side effect.
    names = [p.stem for p in COMMON.glob("*.py") if p.stem != "__init__"]
    code = (
        "import sys, importlib\n"
        f"for n in {names!r}: importlib.import_module('common.' + n)\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=COMMON.parent, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
