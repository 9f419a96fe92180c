#!/usr/bin/env python
"""Operations CLI for customers and marketing (runs in .venv/actions; REDIS_URL).

  import-tags FILE.csv            bulk tag import from an SCRM export (report as JSON)
  customer KEY                    a customer's profile, tags and tag history
                                  (KEY: c123, unionid:<id>, wechat_mp:<openid>, wecom_kf:<id>…)
  campaign ID [--full]            a lottery's stock, winners and unfilled addresses
                                  (phones/addresses masked unless --full, for fulfilment)
  coupons-load TYPE FILE          preload a coupon code pool (one code per line); grants
                                  parked on an empty pool are queued again
  alerts [--count N]              newest ops alerts first (stream ops:alerts: e.g. an empty
                                  coupon pool), and how many rewards wait in the grant outbox
  handoffs [--hours H]            handoffs to guides: waiting now, median / p90 time to a guide's
                                  first reply, abandoned requests, per guide (last H hours; all by default)
  complaints [--count N] [--full] newest complaints first (texts masked unless --full)
  ship CLAIM --carrier C --tracking N [--by NAME]
                                  mark a parcel prize shipped; the winner is told the tracking
                                  number by the outbound worker, and 我的奖品 shows it
  codes-create BATCH --count N [--coupon TYPE] [--draws K --campaign ID] [--product ID]
               [--valid-days D] [--out FILE.csv]
                                  a batch of one-time 包裹卡 / 一物一码 codes; the CSV has each code's
                                  公众号 QR scene string, 微信客服 scene_param and typed form
  codes-stats BATCH               scans, redemptions, repeats of used codes, expired scans
  restocked PRODUCT               a product is back: everyone who asked (到货通知我) is told once
  erase KEY [--dry-run]           delete one customer's data everywhere (profile, tags,
                                  coupons, claims, check-in/lottery state, inbox rows,
                                  Rasa trackers); reports counts per kind (see
                                  actions/services/erasure.py); --dry-run only counts

Example: REDIS_URL=redis://127.0.0.1:6399/0 .venv/actions/bin/python scripts/ops.py campaign spring_wheel
"""
from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any, Dict, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actions.services import (codes, coupons, customers, erasure, lottery, prizes, restock, shipping, store,  # noqa: E402
                             tag_import, tags)
from actions.services.catalog import catalog  # noqa: E402
from actions.services.clock import utc_now  # noqa: E402
from common import handoff_routing, handoff_stats  # noqa: E402
from common.privacy import mask_address, mask_phone, mask_text  # noqa: E402


def out(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


async def find_customer(client, text: str) -> Optional[str]:
    if text.startswith("c") and text[1:].isdigit():
        return text if await client.exists(customers.key(text, "profile")) else None
    return await client.get(f"{store.PREFIX}ident:{text}")


async def cmd_import(client, args) -> int:
    with open(args.file, encoding="utf-8-sig", newline="") as stream:
        report = await tag_import.import_csv(client, catalog(), stream, utc_now(), Path(args.file).name)
    out(report.as_dict())
    return 0


async def cmd_customer(client, args) -> int:
    cid = await find_customer(client, args.key)
    if not cid:
        print(f"no customer for {args.key}", file=sys.stderr)
        return 1
    cat = catalog()
    out({
        "customer": cid,
        "profile": await customers.profile(client, cid),
        "identities": sorted(await client.smembers(customers.key(cid, "idents"))),
        "tags": sorted(tags.display(cat, t) for t in await tags.tags_of(client, cid)),
        "tag_history": await tags.history(client, cid, args.limit),
    })
    return 0


def _shown(claim: prizes.Claim, full: bool) -> Dict[str, str]:
    f = dict(claim.fields)
    if not full and f:
        f["recipient_phone"] = mask_phone(f.get("recipient_phone", ""))
        f["address_detail"] = mask_address(f.get("address_detail", ""))
    return f


async def cmd_campaign(client, args) -> int:
    cat = catalog()
    campaign = cat.lottery(args.id)
    if not campaign:
        print(f"unknown campaign {args.id}; known: {[c.id for c in cat.lotteries]}", file=sys.stderr)
        return 1
    left = await lottery.stock(client, campaign)
    claim_ids = await client.lrange(lottery.winners_key(campaign.id), 0, -1)
    claims = [c for c in [await prizes.get(client, i) for i in claim_ids] if c]
    winners = [{"claim": c.id, "customer": c.customer, "prize": c.prize_name(cat), "status": c.status,
                "won_at": c.won_at, **_shown(c, args.full)} for c in claims]
    out({
        "campaign": campaign.id, "name": campaign.name,
        "stock": [{"prize": p.id, "name": p.name, "configured": p.stock, "left": left[p.id]} for p in campaign.prizes],
        "winners": winners,
        "unfilled_addresses": [w for w in winners if w["status"] == prizes.AWAITING_ADDRESS],
    })
    return 0


async def cmd_coupons_load(client, args) -> int:
    if args.type not in catalog().coupons:
        print(f"unknown coupon type {args.type}", file=sys.stderr)
        return 1
    codes = Path(args.file).read_text(encoding="utf-8").splitlines()
    added = await coupons.load_codes(client, args.type, codes)
    out({"type": args.type, "lines": len(codes), "added": added, "pool": await client.llen(f"{store.TAG}cpn:{args.type}:pool")})
    return 0


async def cmd_alerts(client, args) -> int:
    entries = await client.xrevrange(store.ALERTS, count=args.count)
    out({"alerts": [{"id": entry_id, **fields} for entry_id, fields in entries],
         "grants_pending": await client.zcard(coupons.OUTBOX)})
    return 0


async def cmd_handoffs(client, args) -> int:
    since = utc_now() - timedelta(hours=args.hours) if args.hours else None
    out(await handoff_stats.service_levels(client, since))
    return 0


async def cmd_complaints(client, args) -> int:
    entries = await client.xrevrange(handoff_routing.COMPLAINTS, count=args.count)
    out({"complaints": [{"id": entry_id, **fields, "text": fields.get("text", "") if args.full
                         else mask_text(fields.get("text", ""))} for entry_id, fields in entries]})
    return 0


SHIP_ANSWERS = {
    "shipped": "marked shipped; the winner's notice is queued for the outbound worker",
    "repeat": "already shipped with this tracking number; nothing changed",
    "shipped_before": "already shipped with another tracking number; nothing changed",
    "not_ready": "the winner has not given an address yet",
    "not_parcel": "this prize is not a parcel",
    "missing": "no such claim",
    "bad_tracking": "the tracking number must be 6-40 letters, digits or dashes, and the carrier given",
}


async def cmd_ship(client, args) -> int:
    result = await shipping.mark_shipped(client, catalog(), args.claim, args.carrier, args.tracking, utc_now(),
                                         args.by)
    out({"claim": args.claim, "result": result, "meaning": SHIP_ANSWERS.get(result, result)})
    return 0 if result in (shipping.SHIPPED, shipping.REPEAT) else 1


async def cmd_codes_create(client, args) -> int:
    now = utc_now()
    batch = codes.Batch(args.batch, args.coupon or "", args.draws, args.campaign or "", args.product or "",
                        codes.expiry(now, args.valid_days))
    problems = codes.problems(catalog(), batch)
    if problems or await client.exists(codes.batch_key(batch.id)):
        out({"refused": problems or [f"batch {batch.id} exists"]})
        return 1
    made = await codes.create_batch(client, batch, args.count, now)
    if args.out:
        with open(args.out, "w", encoding="utf-8", newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=list(codes.qr_payloads("X")))
            writer.writeheader()
            writer.writerows(codes.qr_payloads(code) for code in made)
    out({"batch": batch.id, "codes": len(made), "file": args.out or "", "sample": codes.qr_payloads(made[0]) if made else {}})
    return 0


async def cmd_codes_stats(client, args) -> int:
    stats = await codes.batch_stats(client, args.batch)
    if stats is None:
        print(f"no batch {args.batch}", file=sys.stderr)
        return 1
    out(stats)
    return 0


async def cmd_restocked(client, args) -> int:
    product = next((p for p in catalog().products if p.id == args.product), None)
    if product is None:
        print(f"unknown product {args.product}", file=sys.stderr)
        return 1
    out({"product": product.id, "notices_queued": await restock.restocked(client, catalog(), product, utc_now())})
    return 0


async def cmd_erase(client, args) -> int:
    cid = await find_customer(client, args.key)
    if not cid:
        print(f"no customer for {args.key}", file=sys.stderr)
        return 1
    out(await erasure.erase(client, cid, dry_run=args.dry_run))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("import-tags"); p.add_argument("file"); p.set_defaults(run=cmd_import)
    p = sub.add_parser("customer"); p.add_argument("key"); p.add_argument("--limit", type=int, default=50)
    p.set_defaults(run=cmd_customer)
    p = sub.add_parser("campaign"); p.add_argument("id"); p.add_argument("--full", action="store_true")
    p.set_defaults(run=cmd_campaign)
    p = sub.add_parser("coupons-load"); p.add_argument("type"); p.add_argument("file"); p.set_defaults(run=cmd_coupons_load)
    p = sub.add_parser("alerts"); p.add_argument("--count", type=int, default=50); p.set_defaults(run=cmd_alerts)
    p = sub.add_parser("handoffs"); p.add_argument("--hours", type=float, default=0); p.set_defaults(run=cmd_handoffs)
    p = sub.add_parser("complaints"); p.add_argument("--count", type=int, default=50)
    p.add_argument("--full", action="store_true"); p.set_defaults(run=cmd_complaints)
    p = sub.add_parser("ship"); p.add_argument("claim"); p.add_argument("--carrier", required=True)
    p.add_argument("--tracking", required=True); p.add_argument("--by", default="ops-cli"); p.set_defaults(run=cmd_ship)
    p = sub.add_parser("codes-create"); p.add_argument("batch"); p.add_argument("--count", type=int, required=True)
    p.add_argument("--coupon"); p.add_argument("--draws", type=int, default=0); p.add_argument("--campaign")
    p.add_argument("--product"); p.add_argument("--valid-days", type=int, default=0); p.add_argument("--out")
    p.set_defaults(run=cmd_codes_create)
    p = sub.add_parser("codes-stats"); p.add_argument("batch"); p.set_defaults(run=cmd_codes_stats)
    p = sub.add_parser("restocked"); p.add_argument("product"); p.set_defaults(run=cmd_restocked)
    p = sub.add_parser("erase"); p.add_argument("key"); p.add_argument("--dry-run", action="store_true")
    p.set_defaults(run=cmd_erase)
    args = parser.parse_args(argv)

    async def run() -> int:
        client = store.make_client()
        try:
            return await args.run(client, args)
        finally:
            await client.aclose()

    try:
        return asyncio.run(run())
    except store.UNAVAILABLE as error:
        print(f"Redis unavailable at {store.redis_url()}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
