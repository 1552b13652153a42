"""``python -m benchmarks [NAME ...]``: run the benchmarks (all by default) and print their numbers."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from benchmarks import bench_bot, bench_lineworks, bench_loader, bench_redact, bench_talklogs

BENCHMARKS = {
    "lineworks": bench_lineworks.run,
    "loader": bench_loader.run,
    "talklogs": bench_talklogs.run,
    "redact": bench_redact.run,
    "bot": bench_bot.run,
}


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    results = {}
    for name in names:
        print(f"== {name}", flush=True)
        results[name] = BENCHMARKS[name]()
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(f"\nresults written to {out / 'latest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
