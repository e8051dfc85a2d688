"""Cost of the card-number check every API body goes through, as a ratio to parsing the same body as JSON.

The DRF parser refuses a body holding a card-like number before anything is stored (config/common/pan.py), so
every inbound request pays for the scan after the JSON parse. Bodies, each about the request size limit:
a realistic ERP inventory post (the largest body we take), and shapes chosen to be the scan's worst cases
(long runs of short digit groups, long runs of 4-digit groups that all start like a Visa, text full of cards).
Ratio = scan time / json.loads time of the same body (the same run, same machine).

    .venv/bin/python bench/card_check.py [--mb 8] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config.common.pan import card_number_paths


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """The best time of `repeat` runs, and what the call returned."""
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return min(times), result


def bodies(size: int) -> dict[str, str]:
    level = {"item_id": "IT-000000", "site": "MAIN", "on_hand": 12, "allocated": 2,
             "as_of": "2026-11-30T09:00:00+00:00", "version": 7}  # fmt: skip
    per_level = len(json.dumps(level)) + 2
    levels = [{**level, "item_id": f"IT-{n:06d}", "version": n} for n in range(size // per_level)]

    def text_of(unit: str) -> str:
        return json.dumps({"note": unit * (size // len(unit))})

    rng = random.Random(13)
    return {
        "ERP inventory post": json.dumps({"levels": levels}),
        "'1 1 1 …' in one field": text_of("1 "),
        "'4111-4111-…' in one field": text_of("4111-"),
        "cards in one field": text_of("4111 1111 1111 1111, "),
        # Each window differs (no check is repeated; one is a card soon: the refusal stops there).
        "random '4ddd-' groups": text_of("".join(f"4{rng.randrange(1000):03d}-" for _ in range(200_000))),
        "UUIDs in one field": text_of(" ".join(str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(20_000))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=8.0, help="body size in MB (the API's limit is 8)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    size = int(args.mb * 1024 * 1024)
    print(f"card check vs json.loads, bodies of {args.mb:g} MB, best of {args.repeat}")
    for name, body in bodies(size).items():
        parse, value = best_of(args.repeat, partial(json.loads, body))
        scan, found = best_of(args.repeat, partial(card_number_paths, value))
        print(f"  {name:28} parse {parse:6.2f} s  scan {scan:6.2f} s  ratio {scan / parse:6.1f}  "
              f"refused: {', '.join(found) or 'no'}")  # fmt: skip


if __name__ == "__main__":
    main()
