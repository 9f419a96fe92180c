"""Bulk tag import from an SCRM CSV export, pipelined.

Columns: `customer_key` (`unionid:<id>`, `<channel>:<user id>`, e.g.
`wecom_kf:wmXXXX`, or an existing customer id `c123`) and `tags` (ids or
display names, separated by | , ; 、 or spaces). Optional columns: `name` (display
name) and `guide` (the bound guide's WeCom userid, used by the handoff).
Unknown tags and malformed rows are reported, never fatal.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Dict, List, Tuple

import redis.asyncio as aioredis

from actions.services import tags as tag_service
from actions.services.catalog import Catalog
from actions.services.clock import iso
from actions.services.customers import key
from actions.services.store import PREFIX, scripts
from common.redis_settings import cluster_mode

_TAG_SPLIT = re.compile(r"[|,;，；、\s]+")
_CUSTOMER_ID = re.compile(r"^c\d+$")


@dataclass
class Report:
    rows: int = 0
    imported: int = 0
    customers_created: int = 0
    tags_added: int = 0
    bad_rows: List[Tuple[int, str]] = field(default_factory=list)  # (line, reason)
    unknown_tags: Dict[str, int] = field(default_factory=dict)  # tag text -> rows

    def as_dict(self) -> Dict:
        return {
            "rows": self.rows, "imported": self.imported, "customers_created": self.customers_created,
            "tags_added": self.tags_added, "bad_rows": len(self.bad_rows),
            "bad_row_samples": self.bad_rows[:20], "unknown_tags": self.unknown_tags,
        }


def _ident(customer_key: str) -> Tuple[str, str]:
    kind, _, value = customer_key.partition(":")
    return kind.strip(), value.strip()


async def import_csv(client: aioredis.Redis, catalog: Catalog, stream: IO[str], now: datetime, source: str,
                     batch: int = 2000) -> Report:
    report = Report()
    reader = csv.DictReader(stream)
    fields = {(f or "").strip().lower() for f in reader.fieldnames or []}
    if not {"customer_key", "tags"} <= fields:
        report.bad_rows.append((1, "header must have customer_key and tags"))
        return report
    rows: List[Tuple[int, str, List[str], Dict[str, str]]] = []
    for line, row in enumerate(reader, start=2):
        report.rows += 1
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if k}
        ckey = row.get("customer_key", "")
        kind, value = _ident(ckey)
        if not _CUSTOMER_ID.match(ckey) and (not kind or not value):
            report.bad_rows.append((line, f"bad customer_key {ckey!r}"))
            continue
        resolved: List[str] = []
        for text in filter(None, _TAG_SPLIT.split(row.get("tags", ""))):
            tag = catalog.resolve_tag(text)
            if tag:
                resolved.append(tag)
            else:
                report.unknown_tags[text] = report.unknown_tags.get(text, 0) + 1
        if not resolved:
            report.bad_rows.append((line, "no known tag"))
            continue
        rows.append((line, ckey, resolved, {f: row[f] for f in ("name", "guide") if row.get(f)}))
        if len(rows) >= batch:
            await _flush(client, catalog, rows, now, source, report)
            rows = []
    if rows:
        await _flush(client, catalog, rows, now, source, report)
    return report


class _RoundTrip:
    """Commands sent in one pipelined round trip. A Redis Cluster pipeline refuses Lua
    scripts, so there each call runs on its own (an ops import, not a chat turn)."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client
        self.pipe = None if cluster_mode() else client.pipeline(transaction=False)
        self.results: List = []

    async def script(self, script, keys: List[str], args: List) -> None:
        if self.pipe is None:
            self.results.append(await script(keys=keys, args=args))
        else:
            await script(keys=keys, args=args, client=self.pipe)

    async def call(self, command: str, *args, **kwargs) -> None:
        if self.pipe is None:
            self.results.append(await getattr(self.client, command)(*args, **kwargs))
        else:
            getattr(self.pipe, command)(*args, **kwargs)

    async def execute(self) -> List:
        return self.results if self.pipe is None else await self.pipe.execute()


async def _flush(client: aioredis.Redis, catalog: Catalog, rows, now: datetime, source: str, report: Report) -> None:
    script = scripts(client)
    # 1) customer ids, one pipelined round trip
    trip = _RoundTrip(client)
    for _, ckey, _, _ in rows:
        if _CUSTOMER_ID.match(ckey):
            await trip.call("exists", key(ckey, "profile"))
        else:
            await trip.script(script.resolve_customer, keys=[f"{PREFIX}seq", f"{PREFIX}ident:{ckey}"],
                              args=[iso(now), "import", "", PREFIX, ckey])
    resolved = await trip.execute()
    # 2) tags, one pipelined round trip
    trip = _RoundTrip(client)
    applied = []
    for (line, ckey, tag_ids, profile), res in zip(rows, resolved):
        if _CUSTOMER_ID.match(ckey):
            if not res:
                report.bad_rows.append((line, f"unknown customer id {ckey}"))
                continue
            cid = ckey
        else:
            cid, created = str(res[0]), int(res[1])
            report.customers_created += created
        args = tag_service.apply_args(catalog, tag_ids, (), f"import:{source}", "SCRM import", now)
        await trip.script(script.apply_tags, keys=tag_service.apply_keys(cid), args=args)
        if profile:
            await trip.call("hset", key(cid, "profile"), mapping=profile)
        applied.append(bool(profile))
    results = await trip.execute()
    i = 0
    for has_profile in applied:
        report.imported += 1
        report.tags_added += sum(1 for c in results[i] if c.startswith("+"))
        i += 2 if has_profile else 1
