"""Helpers shared by the benchmark scripts: workers in subprocesses, RSS, and table printing.

Each side of a comparison runs in its own fresh process, so one side's allocations never show
up in the other's RSS; the parent prints both side by side.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

import psutil


def rss_mb() -> float:
    """Resident set size of this process in MB."""
    return float(psutil.Process().memory_info().rss / 1e6)


def run_worker(script: str, args: Sequence[str]) -> dict[str, Any]:
    """Run ``script --worker ...`` in a fresh interpreter; it prints one JSON object last."""
    proc = subprocess.run(
        [sys.executable, script, *args], capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"}
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"worker {' '.join(args)} failed with exit status {proc.returncode}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print a plain-text table with right-aligned columns."""
    cells = [[str(h) for h in headers]] + [
        [f"{c:.3f}" if isinstance(c, float) else str(c) for c in row] for row in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for k, row in enumerate(cells):
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)))
        if k == 0:
            print("  ".join("-" * w for w in widths))
