#!/usr/bin/env python
"""Marketing benchmarks against a private redis-server this script starts.

Prints one JSON object per line: lottery draws/s, check-ins/s, and a 100,000-row
tag import. Concurrency comes from many asyncio tasks on one connection pool,
like the action server under load.
"""
from __future__ import annotations

import asyncio
import io
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actions.services import checkin, lottery, store, tag_import  # noqa: E402
from actions.services.catalog import catalog  # noqa: E402
from actions.services.clock import utc_now  # noqa: E402
from bot.redis_server import RedisServer, free_port  # noqa: E402

CONCURRENCY = 64


async def _timed(n: int, make) -> float:
    queue = iter(range(n))

    async def worker() -> None:
        for i in queue:
            await make(i)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return time.perf_counter() - start


async def main() -> None:
    cat = catalog()
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(free_port(), Path(tmp)).start(appendonly=False)
        client = store.make_client(server.url)
        try:
            now = utc_now()
            # limits lifted so every draw runs the full script (pick, stock, claim)
            campaign = replace(cat.lottery("spring_wheel"), daily_limit=1_000_000, total_limit=1_000_000)
            n = 20_000
            secs = await _timed(n, lambda i: lottery.draw(client, cat, campaign, f"c{i % 5000}", now))
            print(json.dumps({"benchmark": "lottery_draws", "draws": n, "seconds": round(secs, 3),
                              "draws_per_s": round(n / secs), "concurrency": CONCURRENCY}))
            secs = await _timed(n, lambda i: checkin.check_in(client, cat, f"k{i}", now))
            print(json.dumps({"benchmark": "checkins", "checkins": n, "seconds": round(secs, 3),
                              "checkins_per_s": round(n / secs), "concurrency": CONCURRENCY}))
            rows = 100_000
            tag_names = ["金卡|干皮", "银卡,油皮", "普卡;敏感肌|学生党", "黑金卡 中性皮", "男士|混合皮"]
            csv_text = "customer_key,tags\n" + "".join(f"unionid:U{i},{tag_names[i % 5]}\n" for i in range(rows))
            start = time.perf_counter()
            report = await tag_import.import_csv(client, cat, io.StringIO(csv_text), now, "bench.csv")
            secs = time.perf_counter() - start
            print(json.dumps({"benchmark": "tag_import", "rows": rows, "imported": report.imported,
                              "seconds": round(secs, 3), "rows_per_s": round(rows / secs)}))
        finally:
            await client.aclose()
            server.stop()


if __name__ == "__main__":
    asyncio.run(main())
