"""Cold start: the app's import time, and its first requests, as ratios to importing its libraries bare.

Every number comes from a fresh interpreter (``bench/probe.py``), timed inside it so
interpreter start-up is excluded. Floor, app and ``import stripe`` runs alternate so they
share the machine's noise; the medians are compared. The first-request runs talk to the
emulator of this process (``AWS_ENDPOINT_URL`` is in the environment they inherit) and to
``devstack``'s Stripe stand-in, which this process serves over loopback HTTP
(``STRIPE_API_BASE`` and test keys in their environment: the app's own wiring, as in the
local stack). They check that routes which move no money never load ``stripe``, and time
what the first payment request adds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench import probe
from bench.harness import ROOT, STRIPE_API_KEY, STRIPE_WEBHOOK_SECRET, BenchError, Check, Section, Stack, median, ms

PROBE = ROOT / "bench" / "probe.py"
HEAVY = probe.HEAVY
FLOOR = "import boto3, pynamodb, chalice"
ROUNDS = 15
FIRST_REQUEST_RUNS = 7
TARGET_RATIO = 1.25
SKU = "COLD-1"


def run_probe(*args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run the probe in a fresh interpreter (``env`` added to this process's environment); its JSON result."""
    done = subprocess.run(
        [sys.executable, str(PROBE), *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
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


def run(stack: Stack) -> Section:
    """Import floor vs ``import app`` vs ``import stripe`` (ROUNDS each), then FIRST_REQUEST_RUNS cold containers."""
    stack.seed(SKU, stock=1_000_000, category="cold")
    for mode in ("floor", "app", "stripe"):  # warm the disk cache and write bytecode; not counted
        run_probe(mode)
    floor: list[float] = []
    app: list[float] = []
    stripe: list[float] = []
    for _ in range(ROUNDS):
        floor.append(run_probe("floor")["import_s"])
        app.append(run_probe("app")["import_s"])
        stripe.append(run_probe("stripe")["import_s"])
    with stripe_standin() as stripe_env:
        first = [run_probe("first", SKU, "bench-cold-customer", env=stripe_env) for _ in range(FIRST_REQUEST_RUNS)]

    floor_s, app_s, stripe_s = median(floor), median(app), median(stripe)
    timed = [key for key in first[0] if key.endswith("_s") and key != "stripe_import_in_pay_s"]
    steps = {key: median([result[key] for result in first]) for key in timed}
    ratio = app_s / floor_s
    by_get = [name for name in first[0]["loaded_after_get"] if name not in first[0]["loaded_after_import"]]
    by_post = [name for name in first[0]["loaded_after_post"] if name not in first[0]["loaded_after_get"]]
    never = [name for name in HEAVY if name not in first[0]["loaded_before_pay"]]
    by_pay = [name for name in first[0]["loaded_after_pay"] if name not in first[0]["loaded_before_pay"]]
    # stripe must stay out of every run until the first payment, and be in after it
    steps_without_stripe = list(first[0]["stripe_loaded_after"])
    loaded_early = sorted({step for result in first for step, seen in result["stripe_loaded_after"].items() if seen})
    loaded_by_pay = sum("stripe" in result["loaded_after_pay"] for result in first)
    stripe_kept_out = not loaded_early
    runs_of_all = f"{FIRST_REQUEST_RUNS} of {FIRST_REQUEST_RUNS} runs"
    pay_extras = [result["first_pay_s"] - result["warm_pay_s"] for result in first]
    pay_extra_s = median(pay_extras)  # of each run's own difference: runs drift as the emulator's tables grow
    in_pay = [result["stripe_import_in_pay_s"] for result in first if result["stripe_import_in_pay_s"] is not None]
    in_pay_s = median(in_pay) if in_pay else None

    section = Section("cold_start", f"1. Cold start (fresh interpreters, start-up excluded; medians of {ROUNDS})")
    section.lines = [
        f"  floor  {FLOOR:<44} {ms(floor_s):>10}   (min {ms(min(floor))}, max {ms(max(floor))})",
        f"  app    {'import app':<44} {ms(app_s):>10}   (min {ms(min(app))}, max {ms(max(app))})"
        f"   ratio {ratio:.2f}  {'PASS' if ratio <= TARGET_RATIO else 'FAIL'} (target ≤ {TARGET_RATIO})",
        f"  stripe {'import stripe':<44} {ms(stripe_s):>10}   (min {ms(min(stripe))}, max {ms(max(stripe))})"
        f"   ratio {stripe_s / floor_s:.2f}  (info: alone; only paying routes import it)",
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
        "  routes that move no money never load `stripe` (sys.modules checked after each step, in every run):",
        *wrapped(
            [*steps_without_stripe[:-1], steps_without_stripe[-1] + ":"],
            (f"loaded after {', '.join(loaded_early)}" if loaded_early else f"never loaded in {runs_of_all}")
            + f"   {'PASS' if stripe_kept_out else 'FAIL'} (target: not loaded)",
        ),
        "  paying does (Stripe: the stand-in on loopback HTTP, reached through the app's own wiring and keys):",
        f"    loaded lazily, by the first POST /orders/{{id}}/payments: {', '.join(by_pay) or 'nothing'}"
        f" (in {loaded_by_pay} of {FIRST_REQUEST_RUNS} runs)",
        f"    {'first POST /orders/{id}/payments (card)':<48} {ms(steps['first_pay_s']):>10}",
        f"    {f'then warm ones (median of {probe.WARM_PAYS}, other orders)':<48} {ms(steps['warm_pay_s']):>10}",
        f"    {'extra cost of the first payment request':<48} {ms(pay_extra_s):>10}"
        f"   ratio {pay_extra_s / floor_s:.2f}   (median of first - warm in each run; min {ms(min(pay_extras))},"
        f" max {ms(max(pay_extras))})",
        f"    {'of which `import stripe`, timed inside it':<48} "
        + (f"{ms(in_pay_s):>10}   ratio {in_pay_s / floor_s:.2f}" if in_pay_s is not None else f"{'-':>10}"),
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
        "stripe_import_median_s": stripe_s,
        "stripe_import_ratio": stripe_s / floor_s,
        "stripe_import_runs_s": stripe,
        "first_request": {
            "runs": FIRST_REQUEST_RUNS,
            "median_s": steps,
            "ratio_to_floor": {key: steps[key] / floor_s for key in ("import_s", "import_get_s", "import_get_post_s")},
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
        Check("cold start import ratio", f"{ratio:.2f}", f"≤ {TARGET_RATIO}", ratio <= TARGET_RATIO),
        Check("stripe not loaded on non-paying routes", kept_out, "not loaded", stripe_kept_out),
    ]
    return section
