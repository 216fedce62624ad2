"""Cold start: the app's import time, and its first requests, as ratios to importing its libraries bare.

Every number comes from a fresh interpreter (``bench/probe.py``), timed inside it so
interpreter start-up is excluded. Floor and app runs alternate so they share the
machine's noise; the medians are compared. The first-request runs talk to the
emulator of this process (``AWS_ENDPOINT_URL`` is in the environment they inherit).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from bench import probe
from bench.harness import ROOT, BenchError, Check, Section, Stack, median, ms

PROBE = ROOT / "bench" / "probe.py"
HEAVY = probe.HEAVY
FLOOR = "import boto3, pynamodb, chalice"
ROUNDS = 15
FIRST_REQUEST_RUNS = 7
TARGET_RATIO = 1.25
SKU = "COLD-1"


def run_probe(*args: str) -> dict[str, Any]:
    """Run the probe in a fresh interpreter; its JSON result."""
    done = subprocess.run(
        [sys.executable, str(PROBE), *args], cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BenchError(f"probe {' '.join(args)} failed ({done.returncode}):\n{done.stderr.strip()}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(stack: Stack) -> Section:
    """Import floor vs ``import app`` (ROUNDS each), then FIRST_REQUEST_RUNS cold containers' first requests."""
    stack.seed(SKU, stock=1_000_000, category="cold")
    for mode in ("floor", "app"):  # warm the disk cache and write bytecode; not counted
        run_probe(mode)
    floor: list[float] = []
    app: list[float] = []
    for _ in range(ROUNDS):
        floor.append(run_probe("floor")["import_s"])
        app.append(run_probe("app")["import_s"])
    first = [run_probe("first", SKU, "bench-cold-customer") for _ in range(FIRST_REQUEST_RUNS)]

    floor_s, app_s = median(floor), median(app)
    steps = {key: median([result[key] for result in first]) for key in first[0] if key.endswith("_s")}
    ratio = app_s / floor_s
    by_get = [name for name in first[0]["loaded_after_get"] if name not in first[0]["loaded_after_import"]]
    by_post = [name for name in first[0]["loaded_after_post"] if name not in first[0]["loaded_after_get"]]
    never = [name for name in HEAVY if name not in first[0]["loaded_after_post"]]

    section = Section("cold_start", f"1. Cold start (fresh interpreters, start-up excluded; medians of {ROUNDS})")
    section.lines = [
        f"  floor  {FLOOR:<44} {ms(floor_s):>10}   (min {ms(min(floor))}, max {ms(max(floor))})",
        f"  app    {'import app':<44} {ms(app_s):>10}   (min {ms(min(app))}, max {ms(max(app))})"
        f"   ratio {ratio:.2f}  {'PASS' if ratio <= TARGET_RATIO else 'FAIL'} (target ≤ {TARGET_RATIO})",
        f"  first requests of a cold container (median of {FIRST_REQUEST_RUNS}; ratios to the floor):",
        f"    {'import app':<48} {ms(steps['import_s']):>10}   ratio {steps['import_s'] / floor_s:.2f}",
        f"    {'+ first GET /products (anonymous)':<48} {ms(steps['import_get_s']):>10}"
        f"   ratio {steps['import_get_s'] / floor_s:.2f}",
        f"    {'+ first POST /orders (signed in)':<48} {ms(steps['import_get_post_s']):>10}"
        f"   ratio {steps['import_get_post_s'] / floor_s:.2f}",
        f"    {'then a warm GET /products':<48} {ms(steps['warm_get_s']):>10}",
        f"    {'then a warm POST /orders':<48} {ms(steps['warm_post_s']):>10}",
        f"  loaded by `import app`:                    {', '.join(first[0]['loaded_after_import']) or 'none of the heavy modules'}",
        f"  loaded lazily, by the first GET /products: {', '.join(by_get) or 'nothing'}",
        f"  loaded lazily, by the first POST /orders:  {', '.join(by_post) or 'nothing'}",
        f"  not loaded on these paths:                 {', '.join(never) or 'nothing'}",
    ]
    section.data = {
        "floor_statement": FLOOR,
        "rounds": ROUNDS,
        "floor_median_s": floor_s,
        "app_import_median_s": app_s,
        "ratio": ratio,
        "target_ratio": TARGET_RATIO,
        "floor_runs_s": floor,
        "app_runs_s": app,
        "first_request": {
            "runs": FIRST_REQUEST_RUNS,
            "median_s": steps,
            "ratio_to_floor": {key: steps[key] / floor_s for key in ("import_s", "import_get_s", "import_get_post_s")},
            "loaded_after_import": first[0]["loaded_after_import"],
            "loaded_by_first_get": by_get,
            "loaded_by_first_post": by_post,
            "not_loaded": never,
        },
    }
    section.checks = [Check("cold start import ratio", f"{ratio:.2f}", f"≤ {TARGET_RATIO}", ratio <= TARGET_RATIO)]
    return section
