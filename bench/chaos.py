"""The chaos bench: crashes mid-build, live reindex under load, a full disk and damaged files, API
fuzzing, hostile transcripts and users, crashes mid-publish to Milvus. Prints one table (what was
done, how often, what broke) and the machine; exits 1 when any row lost something or missed its target.

    .venv/bin/python bench/chaos.py                      # everything, full size (about an hour)
    .venv/bin/python bench/chaos.py --parts crash,disk   # some parts
    .venv/bin/python bench/chaos.py --quick              # every part, small (what the test suite runs)

Each part is a module beside this one with `run(opts, quick) -> list[Row]` and can run alone.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.chaos_common import Row, table  # noqa: E402

PARTS = {"crash": "bench.chaos_crash", "live": "bench.chaos_live", "disk": "bench.chaos_disk",
         "fuzz": "bench.chaos_fuzz", "hostile": "bench.chaos_hostile", "publish": "bench.chaos_publish"}


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    mem = next((int(line.split()[1]) / 1024**2 for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), 0.0) if Path("/proc/meminfo").exists() else 0.0
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GB RAM, Python {platform.python_version()}, {platform.system()}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of: {', '.join(PARTS)}")
    p.add_argument("--quick", action="store_true", help="small runs of every part (seconds, not an hour)")
    p.add_argument("--model", choices=("real", "fake"), default=None,
                   help="embedding model for the parts that build and serve (default: each part's own)")
    opts = p.parse_args()
    names = [n.strip() for n in opts.parts.split(",") if n.strip()]
    unknown = [n for n in names if n not in PARTS]
    if unknown:
        p.error(f"unknown part(s) {unknown}; choose from {', '.join(PARTS)}")
    rows: list[Row] = []
    for name in names:
        t0 = time.perf_counter()
        try:
            part_rows = importlib.import_module(PARTS[name]).run(opts, quick=opts.quick)
        except Exception as e:  # noqa: BLE001 - a part that cannot run is a row that lost, not a crash
            part_rows = [Row(name, "the part itself", 0, broke=f"{type(e).__name__}: {e}", lost=True)]
        rows += part_rows
        print(f"{name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    print(table(rows))
    print(f"\nmachine: {machine()}")
    return 1 if any(r.lost for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
