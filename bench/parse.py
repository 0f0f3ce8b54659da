"""Parsing speed and memory of `prepare`'s price reader on a large investing.com-style export
(Japanese headers, `YYYY年MM月DD日` dates, thousands separators, newest row first, CRLF, BOM),
plausibility checks included (date range, closes, outliers: what `prepare` runs before the series).

Run: .venv/bin/python bench/parse.py [--rows 10000] [--runs 7]
     .venv/bin/python bench/parse.py --smoke       # 300 rows, one run: does it still run?
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import time
import tracemalloc

import pandas as pd

from nikkei_deepar.data.plausible import check_closes, find_outliers, tomorrow_in_tokyo
from nikkei_deepar.data.prices import PriceTable, parse_prices

LATEST = tomorrow_in_tokyo(datetime.datetime(2026, 12, 6, tzinfo=datetime.UTC))


def export(rows: int) -> bytes:
    days = pd.bdate_range("1985-01-01", periods=rows)[::-1]
    lines = ['"日付け","終値","始値"'] + [
        f'"{d:%Y年%m月%d日}","{27_000 + i % 997:,.2f}","1"' for i, d in enumerate(days)
    ]
    return "\r\n".join(lines).encode("utf-8-sig")


def read(raw: bytes, source: str) -> PriceTable:
    """What `prepare` does with the bytes before building the series."""
    table = parse_prices(raw, source=source, latest=LATEST)
    check_closes(table)
    assert find_outliers(table) == []
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--smoke", action="store_true", help="300 rows, one run (seconds)")
    args = parser.parse_args()
    if args.smoke:
        args.rows, args.runs = 300, 1

    raw = export(args.rows)
    read(raw, "warm-up.csv")  # first call pays pandas' lazy imports
    samples = []
    for _ in range(args.runs):
        started = time.perf_counter()
        table = read(raw, "big.csv")
        samples.append(time.perf_counter() - started)
    assert table.rows == args.rows
    tracemalloc.start()
    read(raw, "big.csv")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    median_ms, max_ms = statistics.median(samples) * 1000, max(samples) * 1000
    print(
        f"parse {args.rows} rows ({len(raw) / 1024:.0f} KiB): median {median_ms:.0f} ms,"
        f" max {max_ms:.0f} ms, peak Python allocations {peak / 2**20:.1f} MiB"
    )


if __name__ == "__main__":
    main()
