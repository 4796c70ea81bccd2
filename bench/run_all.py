#!/usr/bin/env python
"""Run every benchmark script in bench/ (all *.py but common.py, run_all.py, __init__.py).

    .venv/bin/python bench/run_all.py [extra args passed to every script]

Each runs in its own process with this interpreter; a failure does not stop the others.
Exits 1 if any benchmark failed (non-zero exit), 0 otherwise.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
SKIP = {"common.py", "run_all.py", "__init__.py"}


def scripts() -> list[Path]:
    return sorted(p for p in BENCH_DIR.glob("*.py") if p.name not in SKIP)


def main(argv: list[str] | None = None) -> int:
    extra = list(sys.argv[1:] if argv is None else argv)
    results: list[tuple[str, int, float]] = []
    for script in scripts():
        print(f"\n### {script.name}", flush=True)
        start = time.perf_counter()
        try:
            code = subprocess.run(
                [sys.executable, str(script), *extra], cwd=BENCH_DIR.parent, check=False
            ).returncode
        except OSError as exc:
            print(f"could not run {script.name}: {exc}", file=sys.stderr)
            code = 127
        results.append((script.name, code, time.perf_counter() - start))

    print("\n### summary")
    width = max((len(name) for name, _, _ in results), default=10)
    for name, code, seconds in results:
        status = "ok" if code == 0 else f"FAILED (exit {code})"
        print(f"{name.ljust(width)}  {seconds:7.1f}s  {status}")
    failed = [name for name, code, _ in results if code != 0]
    if not results:
        print("no benchmarks found")
    if failed:
        print(f"{len(failed)} of {len(results)} benchmarks failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
