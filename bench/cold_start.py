"""Cold start as shipped: the unzipped deployment package's first requests, as a ratio to the bare stack's floor.

The package is build/dev/deployment.zip (``make package`` first if it is missing or older than
the sources), unzipped into a temporary directory that stands in for Lambda's /var/task. Every
number comes from a fresh interpreter (``bench/probe.py``) run with ``-I -S -B``: only the
standard library, then the package, then a directory standing in for what the Lambda runtime
provides (boto3, botocore and their dependencies: this venv's copies, linked), on ``sys.path``,
and no bytecode written (Lambda's code directory is read-only), timed inside it so start-up is
excluded. Floor and app runs alternate so they share the machine's noise; the target is the
median of each round's ratio. They talk to the emulator of this process (``AWS_ENDPOINT_URL`` is
in the environment they inherit) and to ``devstack``'s Stripe stand-in, which this process
serves over loopback HTTP (``STRIPE_API_BASE`` and test keys in their environment: the app's own
wiring, as in the local stack). They check that routes which move no money never load
``stripe``, and time what the first payment adds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import probe
from bench.harness import ROOT, STRIPE_API_KEY, STRIPE_WEBHOOK_SECRET, BenchError, Check, Section, Stack, median, ms

PROBE = ROOT / "bench" / "probe.py"
HEAVY = probe.HEAVY
FLOOR = "import boto3, pynamodb.models, chalice + one GetItem"
ROUNDS = 15
TARGET_RATIO = 1.5
SKU = "COLD-1"
STAGE = "dev"
ZIP = ROOT / "build" / STAGE / "deployment.zip"
SOURCES = ("app.py", "chalicelib", "requirements.txt", ".chalice/config.json", "infra/package.py", "infra/bytecode.py")
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "urllib3")  # python3.11's


def stale(zip_path: Path = ZIP) -> str | None:
    """Why the package must be rebuilt (missing, older than a source, no bytecode), or None."""
    if not zip_path.is_file():
        return "missing"
    built = zip_path.stat().st_mtime
    for source in SOURCES:
        path = ROOT / source
        files = path.rglob("*") if path.is_dir() else [path]
        if any(file.stat().st_mtime > built for file in files if file.is_file() and "__pycache__" not in file.parts):
            return f"older than {source}"
    with zipfile.ZipFile(zip_path) as archive:
        if "__pycache__/app.cpython-311.pyc" not in archive.namelist():
            return "without bytecode"
    return None


@contextmanager
def unzipped_package() -> Iterator[dict[str, Any]]:
    """The package unzipped (``make package`` first if stale) and the runtime's stand-in; yields what was used."""
    reason = stale()
    if reason:
        print(f"  (build/{STAGE}/deployment.zip is {reason}: make package STAGE={STAGE})", flush=True)
        done = subprocess.run(["make", "-s", "package", f"STAGE={STAGE}"], cwd=ROOT, capture_output=True, text=True)
        if done.returncode:
            raise BenchError(f"make package failed ({done.returncode}):\n{done.stderr.strip()}")
        if stale():
            raise BenchError(f"make package left build/{STAGE}/deployment.zip {stale()} (is infra/bytecode.py in it?)")
    with (
        tempfile.TemporaryDirectory(prefix="bench-task-") as task,
        tempfile.TemporaryDirectory(prefix="bench-runtime-") as runtime,
    ):
        with zipfile.ZipFile(ZIP) as archive:
            archive.extractall(task)
            names = archive.namelist()
        site = Path(os.path.dirname(os.path.dirname(__import__("botocore").__file__)))
        for name in RUNTIME_PROVIDED:
            os.symlink(site / name, Path(runtime) / name)
        subprocess.run([sys.executable, "-m", "compileall", "-q", runtime], check=False, capture_output=True)
        yield {
            "task": task,
            "runtime": runtime,
            "zip_bytes": ZIP.stat().st_size,
            "files": len(names),
            "sources": sum(name.endswith(".py") for name in names),
            "bytecode": sum(name.endswith(".cpython-311.pyc") for name in names),
            "botocore_bundled": any(name.startswith("botocore/") for name in names),
        }


def run_probe(package: dict[str, Any], *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """The probe in a fresh interpreter on the unzipped package (``env`` added to this environment); its result."""
    paths = {"BENCH_PACKAGE_DIR": package["task"], "BENCH_RUNTIME_DIR": package["runtime"]}
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-B", str(PROBE), *args],
        cwd=package["task"],
        env={**os.environ, **paths, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"probe {' '.join(args)} failed ({done.returncode}):\n{done.stderr.strip()}")
    return json.loads(done.stdout.strip().splitlines()[-1])


@contextmanager
def stripe_standin() -> Iterator[dict[str, str]]:
    """Stripe's API (``devstack``'s stand-in) on a free loopback port; the environment pointing the app at it.

    Served by the small server below rather than ``StripeStandInServer``: that one sends a
    response's headers and body in two writes, which on a kept-alive connection waits out the
    client's delayed ACK (about 40 ms on Linux) on every request after the first, and would
    land in the warm payment request this section compares the first one with.
    """
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from devstack.stripe_standin import StripeStandIn

    standin = StripeStandIn()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = -1  # buffered: headers and body leave in one write when the request is done

        def do_GET(self) -> None:
            self.answer()

        def do_POST(self) -> None:
            self.answer()

        def answer(self) -> None:
            path, _, query = self.path.partition("?")
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            reply = standin.handle(self.command, path, query=query, headers=dict(self.headers.items()), body=body)
            data = json.dumps(reply.body).encode()
            self.send_response(reply.status)
            for name, value in {**reply.headers, "Content-Type": "application/json"}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield {
            "STRIPE_API_BASE": f"http://127.0.0.1:{server.server_address[1]}",
            "STRIPE_API_KEY": STRIPE_API_KEY,
            "STRIPE_WEBHOOK_SECRET": STRIPE_WEBHOOK_SECRET,
        }
    finally:
        server.shutdown()
        server.server_close()


def wrapped(items: list[str], tail: str, width: int = 110) -> list[str]:
    """``items`` joined by commas, then ``tail``, in lines of about ``width`` indented by four; items are not split."""
    lines, line = [], "   "
    for item in [*(f"{item}," for item in items[:-1]), items[-1], tail]:
        if len(line) + 1 + len(item) > width and line.strip():
            lines.append(line)
            line = "   "
        line += " " + item
    return [*lines, line]


def measure(package: dict[str, Any], stripe_env: dict[str, str]) -> tuple[list[dict], list[dict], int | None]:
    """ROUNDS floor runs and ROUNDS first-request runs, alternating (after one untimed run of each, which
    also counts the botocore sessions the first requests make)."""
    run_probe(package, "floor", SKU)
    counted = run_probe(package, "first", SKU, "bench-cold-customer", env={**stripe_env, "BENCH_COUNT_SESSIONS": "1"})
    floors, firsts = [], []
    for _ in range(ROUNDS):
        floors.append(run_probe(package, "floor", SKU))
        firsts.append(run_probe(package, "first", SKU, "bench-cold-customer", env=stripe_env))
    return floors, firsts, counted["botocore_sessions"]


def run(stack: Stack) -> Section:
    """The floor vs the app's import + first GET + first POST, ROUNDS fresh interpreters each, on the package."""
    stack.seed(SKU, stock=1_000_000, category="cold")
    with unzipped_package() as package, stripe_standin() as stripe_env:
        floors, first, sessions = measure(package, stripe_env)
    floor_s = median([result["floor_s"] for result in floors])
    floor_import_s = median([result["import_s"] for result in floors])
    timed = [key for key in first[0] if key.endswith("_s") and key != "stripe_import_in_pay_s"]
    steps = {key: median([result[key] for result in first]) for key in timed}
    # each round's app run over the floor run next to it (they share the machine's load), then the median
    ratios = [app["import_get_post_s"] / bare["floor_s"] for app, bare in zip(first, floors, strict=True)]
    ratio = median(ratios)
    by_get = [name for name in first[0]["loaded_after_get"] if name not in first[0]["loaded_after_import"]]
    by_post = [name for name in first[0]["loaded_after_post"] if name not in first[0]["loaded_after_get"]]
    never = [name for name in HEAVY if name not in first[0]["loaded_before_pay"]]
    by_pay = [name for name in first[0]["loaded_after_pay"] if name not in first[0]["loaded_before_pay"]]
    # stripe must stay out of every run until the first payment, and be in after it
    steps_without_stripe = list(first[0]["stripe_loaded_after"])
    loaded_early = sorted({step for result in first for step, seen in result["stripe_loaded_after"].items() if seen})
    loaded_by_pay = sum("stripe" in result["loaded_after_pay"] for result in first)
    stripe_kept_out = not loaded_early
    runs_of_all = f"{ROUNDS} of {ROUNDS} runs"
    pay_extras = [result["first_pay_s"] - result["warm_pay_s"] for result in first]
    pay_extra_s = median(pay_extras)  # of each run's own difference: runs drift as the emulator's tables grow
    in_pay = [result["stripe_import_in_pay_s"] for result in first if result["stripe_import_in_pay_s"] is not None]
    in_pay_s = median(in_pay) if in_pay else None
    botocore_from = "the package" if package["botocore_bundled"] else "the runtime's stand-in (not bundled)"
    totals = [result["import_get_post_s"] for result in first]
    verdict = f"{'PASS' if ratio <= TARGET_RATIO else 'FAIL'} (target ≤ {TARGET_RATIO})"

    section = Section(
        "cold_start", f"1. Cold start as shipped (unzipped package, fresh interpreters; medians of {ROUNDS})"
    )
    section.lines = [
        f"  package  build/{STAGE}/deployment.zip: {package['zip_bytes'] / 1e6:.1f} MB, {package['files']} files,"
        f" {package['bytecode']} cpython-311 .pyc for {package['sources']} .py; botocore from {botocore_from}",
        f"  floor    {FLOOR:<44} {ms(floor_s):>10}   (import {ms(floor_import_s)};"
        f" min {ms(min(r['floor_s'] for r in floors))}, max {ms(max(r['floor_s'] for r in floors))})",
        "  the app's first requests in a cold container (cumulative; ratios to the floor):",
        f"    {'import app':<48} {ms(steps['import_s']):>10}   ratio {steps['import_s'] / floor_s:.2f}",
        f"    {'+ first GET /products (anonymous)':<48} {ms(steps['import_get_s']):>10}"
        f"   ratio {steps['import_get_s'] / floor_s:.2f}",
        f"    {'+ first POST /orders (signed in)':<48} {ms(steps['import_get_post_s']):>10}"
        f"   ratio {steps['import_get_post_s'] / floor_s:.2f}   (min {ms(min(totals))}, max {ms(max(totals))})",
        f"  ratio of import + first GET + first POST to the floor, median of the {ROUNDS} rounds' own:"
        f" {ratio:.2f}  {verdict}   (min {min(ratios):.2f}, max {max(ratios):.2f})",
        f"    {'then a warm GET /products':<48} {ms(steps['warm_get_s']):>10}",
        f"    {'then a warm POST /orders':<48} {ms(steps['warm_post_s']):>10}",
        f"  botocore sessions made by import + first GET + first POST: {sessions}",
        f"  loaded by `import app`:                    {', '.join(first[0]['loaded_after_import']) or 'none of the heavy modules'}",
        f"  loaded lazily, by the first GET /products: {', '.join(by_get) or 'nothing'}",
        f"  loaded lazily, by the first POST /orders:  {', '.join(by_post) or 'nothing'}",
        f"  not loaded on these paths:                 {', '.join(never) or 'nothing'}",
        "  routes that move no money never load `stripe` (sys.modules checked after each step, in every run):",
        *wrapped(
            [*steps_without_stripe[:-1], steps_without_stripe[-1] + ":"],
            (f"loaded after {', '.join(loaded_early)}" if loaded_early else f"never loaded in {runs_of_all}")
            + f"   {'PASS' if stripe_kept_out else 'FAIL'} (target: not loaded)",
        ),
        "  paying does (Stripe: the stand-in on loopback HTTP, reached through the app's own wiring and keys):",
        f"    loaded lazily, by the first POST /orders/{{id}}/payments: {', '.join(by_pay) or 'nothing'}"
        f" (in {loaded_by_pay} of {ROUNDS} runs)",
        f"    {'first POST /orders/{id}/payments (card)':<48} {ms(steps['first_pay_s']):>10}",
        f"    {f'then warm ones (median of {probe.WARM_PAYS}, other orders)':<48} {ms(steps['warm_pay_s']):>10}",
        f"    {'extra cost of the first payment request':<48} {ms(pay_extra_s):>10}"
        f"   ratio {pay_extra_s / floor_s:.2f}   (median of first - warm in each run; min {ms(min(pay_extras))},"
        f" max {ms(max(pay_extras))})",
        f"    {'of which `import stripe`, timed inside it':<48} "
        + (f"{ms(in_pay_s):>10}   ratio {in_pay_s / floor_s:.2f}" if in_pay_s is not None else f"{'-':>10}"),
    ]
    section.data = {
        "package": {key: value for key, value in package.items() if key not in ("task", "runtime")},
        "botocore_loaded_from": first[0]["botocore_from"]
        .removeprefix(package["task"])
        .removeprefix(package["runtime"]),
        "floor_statement": FLOOR,
        "rounds": ROUNDS,
        "floor_median_s": floor_s,
        "floor_import_median_s": floor_import_s,
        "floor_runs_s": [result["floor_s"] for result in floors],
        "ratio": ratio,
        "ratio_runs": ratios,
        "target_ratio": TARGET_RATIO,
        "botocore_sessions": sessions,
        "first_request": {
            "median_s": steps,
            "ratio_to_floor": {key: steps[key] / floor_s for key in ("import_s", "import_get_s", "import_get_post_s")},
            "import_get_post_runs_s": totals,
            "loaded_after_import": first[0]["loaded_after_import"],
            "loaded_by_first_get": by_get,
            "loaded_by_first_post": by_post,
            "not_loaded": never,
        },
        "payment": {
            "stripe_checked_after": steps_without_stripe,
            "stripe_loaded_early_at": loaded_early,
            "stripe_not_loaded_on_non_paying_routes": stripe_kept_out,
            "stripe_loaded_by_first_payment_runs": loaded_by_pay,
            "loaded_by_first_payment": by_pay,
            "first_pay_median_s": steps["first_pay_s"],
            "warm_pay_median_s": steps["warm_pay_s"],
            "first_pay_extra_s": pay_extra_s,
            "first_pay_extra_ratio_to_floor": pay_extra_s / floor_s,
            "first_pay_extra_runs_s": pay_extras,
            "stripe_import_in_first_pay_median_s": in_pay_s,
            "stripe_import_in_first_pay_runs_s": in_pay,
        },
    }
    kept_out = f"not loaded in {runs_of_all}" if stripe_kept_out else f"loaded after {', '.join(loaded_early)}"
    section.checks = [
        Check(
            "cold start as shipped: import + first GET + first POST / floor",
            f"{ratio:.2f}",
            f"≤ {TARGET_RATIO}",
            ratio <= TARGET_RATIO,
        ),
        Check("stripe not loaded on non-paying routes", kept_out, "not loaded", stripe_kept_out),
    ]
    return section
