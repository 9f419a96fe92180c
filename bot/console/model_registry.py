"""Which trained model is live, which were, and who switched (issue 13, item 5).

Model files stay in models/ (named `nlu-core-<fingerprint>.tar.gz`); a JSON
sidecar `<stem>.meta.json` written by a console training job says who trained
it, from which data commit, and holds its comparison with the model that was
live then. Redis keeps the pointer and its history, written in one Lua step:

    {console:models}:production    string  the live model's file name
    {console:models}:activations   list    newest first: {model, previous, by, at, kind}

Rasa processes pull the pointer's model (bot/console/models_api.py, endpoints.yml
`models`) and report what they serve in `console:models:serving` (bot/model_pull.py).
"""
from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from bot.model_files import MODELS_DIR
from bot.model_pull import SERVING_KEY, model_etag
from common.lua_script import LuaScript

PRODUCTION_KEY = "{console:models}:production"
ACTIVATIONS_KEY = "{console:models}:activations"
KEEP_ACTIVATIONS = 50
# A worker reports after every pull (3 s) and before loading a new model; loading the
# 211 MB model takes about a minute on two busy cores, so silence up to 3 minutes is a load.
SERVING_FRESH_S = 180.0
SERVING_FORGET_S = 3600.0
MODEL_NAME = re.compile(r"^[A-Za-z0-9._-]{1,120}\.tar\.gz$")

_ACTIVATE = LuaScript(
    """
local previous = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1])
local record = cjson.decode(ARGV[2])
record['previous'] = previous or ''
redis.call('LPUSH', KEYS[2], cjson.encode(record))
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[3]) - 1)
return previous or ''
"""
)


class RegistryError(Exception):
    """A refusal ops read: the message is Chinese."""


def rollback_depth() -> int:
    return max(1, int(os.environ.get("CONSOLE_MODEL_ROLLBACK_N") or 10))


def models_dir() -> Path:
    return Path(os.environ.get("CONSOLE_MODELS_DIR") or MODELS_DIR)


def model_path(name: str) -> Path:
    if not MODEL_NAME.match(name or "") or "/" in name:
        raise RegistryError("模型名称不对")
    return models_dir() / name


def meta_path(model: Path) -> Path:
    return model.parent / f"{model_etag(model)}.meta.json"


def read_meta(model: Path) -> Dict[str, Any]:
    try:
        return json.loads(meta_path(model).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def write_meta(model: Path, meta: Dict[str, Any]) -> None:
    target = meta_path(model)
    temporary = target.with_suffix(".tmp")
    temporary.write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(temporary, target)


def list_models() -> List[Dict[str, Any]]:
    found = []
    for path in models_dir().glob("*.tar.gz"):
        meta = read_meta(path)
        stat = path.stat()
        found.append({
            "name": path.name,
            "size_mb": round(stat.st_size / 1e6, 1),
            "trained_at": meta.get("trained_at") or stat.st_mtime,
            "trained_by": meta.get("trained_by", ""),
            "commit": meta.get("commit", ""),
            "job": meta.get("job", ""),
            "compared_with": (meta.get("comparison") or {}).get("active", ""),
            "summary": (meta.get("comparison") or {}).get("summary"),
        })
    return sorted(found, key=lambda item: item["trained_at"], reverse=True)


async def production(redis: Any) -> Optional[str]:
    value = await redis.get(PRODUCTION_KEY)
    return value.decode() if isinstance(value, bytes) else value


def production_sync(redis: Any) -> Optional[str]:
    """The same, for the training job's blocking client."""
    value = redis.get(PRODUCTION_KEY)
    return value.decode() if isinstance(value, bytes) else value


async def activations(redis: Any, limit: int = KEEP_ACTIVATIONS) -> List[Dict[str, Any]]:
    rows = await redis.lrange(ACTIVATIONS_KEY, 0, limit - 1)
    return [json.loads(row) for row in rows]


async def rollback_choices(redis: Any) -> List[str]:
    """The last N models that were live before the current one and still exist."""
    current = await production(redis)
    seen: List[str] = []
    for record in await activations(redis):
        for name in (record.get("model"), record.get("previous")):
            if name and name != current and name not in seen and (models_dir() / name).is_file():
                seen.append(name)
    return seen[: rollback_depth()]


async def ensure_initial(redis: Any, model_file: str) -> Optional[str]:
    """First start: the model the launcher chose becomes production (never overrides ops)."""
    path = Path(model_file) if model_file else None
    if path is None or not path.is_file() or path.parent.resolve() != models_dir().resolve():
        return None
    if await redis.set(PRODUCTION_KEY, path.name, nx=True):
        return path.name
    return None


async def activate(redis: Any, name: str, who: str, kind: str = "activate") -> str:
    """Point production at `name`; returns the model it replaced.

    An activation needs the model's comparison with the live model (a console
    job's report); a rollback needs the model to be one that was live before."""
    path = model_path(name)
    if not path.is_file():
        raise RegistryError(f"找不到模型 {name}")
    current = await production(redis)
    if name == current:
        raise RegistryError("这个模型已经在线上了")
    if kind == "rollback":
        if name not in await rollback_choices(redis):
            raise RegistryError("只能回滚到最近上线过的模型")
    else:
        comparison = read_meta(path).get("comparison")
        if not comparison:
            raise RegistryError("这个模型还没有和线上模型对比过，先看对比结果再上线")
    record = {"model": name, "by": who, "at": time.time(), "kind": kind}
    previous = await _ACTIVATE(redis, [PRODUCTION_KEY, ACTIVATIONS_KEY],
                               [name, json.dumps(record, ensure_ascii=False), KEEP_ACTIVATIONS])
    return previous.decode() if isinstance(previous, bytes) else previous


async def serving(redis: Any) -> List[Dict[str, Any]]:
    """Every Rasa worker that reported lately: what it serves, and whether it is still reporting."""
    now = time.time()
    rows = await redis.hgetall(SERVING_KEY)
    result, forget = [], []
    for field, raw in rows.items():
        process = field.decode() if isinstance(field, bytes) else field
        try:
            record = json.loads(raw)
        except ValueError:
            forget.append(process)
            continue
        age = now - float(record.get("at") or 0)
        if age > SERVING_FORGET_S:
            forget.append(process)
            continue
        model, loading = record.get("model") or "", record.get("loading") or ""
        result.append({
            "process": process, "port": record.get("port", ""),
            "model": f"{model}.tar.gz" if model else "", "loading": f"{loading}.tar.gz" if loading else "",
            "seen_s_ago": round(age, 1),
            "live": age <= SERVING_FRESH_S,
        })
    if forget:
        await redis.hdel(SERVING_KEY, *forget)
    return sorted(result, key=lambda row: row["process"])
