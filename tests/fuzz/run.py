"""``make fuzz``: schemathesis, every check, against a real local stack, as a customer and as staff.

Starts a ``python -m devstack`` per role (its own DEVSTACK_DIR and free ports, so a
developer's ``make run`` is never touched), signs in its demo account with
``python -m devstack.token``, and runs ``schemathesis run`` on that stack's
``/openapi.json``, the two roles side by side, with ``tests/fuzz/schemathesis.toml`` (a fixed
number of cases per operation, deterministic generation) and ``tests/fuzz/hooks.py``.
Prints the cases run and failures found per token; exits non-zero on any failure.

    python -m tests.fuzz.run [--max-examples N]     (reports and each stack's log in build/fuzz/)
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
REPORTS = ROOT / "build" / "fuzz"
ROLES = (("customer", "customer1@demo.local"), ("staff", "staff@demo.local"))
START_TIMEOUT = 90.0


@dataclass(frozen=True)
class Result:
    role: str
    exit_code: int
    cases: int
    failures: int
    summary: list[str]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make fuzz", description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=None, help="cases per operation (default: the toml's)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    shutil.rmtree(REPORTS, ignore_errors=True)
    REPORTS.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="fuzz-devstack-") as scratch, ThreadPoolExecutor(len(ROLES)) as pool:
        runs = [pool.submit(_fuzz_own_stack, Path(scratch) / role, role, email, args.max_examples)
                for role, email in ROLES]  # fmt: skip
        results = [run.result() for run in runs]
    for result in results:
        print(f"fuzz [{result.role}]: {result.cases} cases run, {result.failures} failures found")
        for line in result.summary:
            print(f"    {line}")
    failed = [r for r in results if r.exit_code != 0 or r.failures]
    print(
        f"fuzz: {sum(r.cases for r in results)} cases, {sum(r.failures for r in results)} failures "
        f"in {time.monotonic() - started:.0f} s; reports in {REPORTS.relative_to(ROOT)}/"
    )
    return 1 if failed else 0


def _fuzz_own_stack(directory: Path, role: str, email: str, max_examples: int | None) -> Result:
    """One role's run against a stack of its own (tables, pool, ports): the roles run side by side, a core each,
    and neither meets the other's orders."""
    log = REPORTS / f"devstack-{role}.log"
    stack = _start(directory, log)
    try:
        env = _wait_ready(stack, directory, log)
        token = _token(directory, email)
        customer = _subject(_token(directory, ROLES[0][1]))  # whom positive staff orders are for
        return _fuzz(role, token, env["api_url"], _skus(env["api_url"]), max_examples, customer)
    finally:
        _stop(stack)


def _environ(directory: Path) -> dict[str, str]:
    """A stack of its own: free ports, the Stripe stand-in (never a developer's real Stripe), no background loops."""
    skipped = ("PORT", "DEVSTACK_PORT", "STRIPE_API_KEY", "STRIPE_API_BASE", "STRIPE_WEBHOOK_SECRET")
    environ = {k: v for k, v in os.environ.items() if k not in skipped}
    environ.update(
        DEVSTACK_DIR=str(directory),
        PORT="0",
        DEVSTACK_AWS_PORT="0",
        DEVSTACK_STRIPE_PORT="0",
        DEVSTACK_SCHEDULE_SECONDS="0",
        DEVSTACK_EVENT_SECONDS="0",
        PYTHONUNBUFFERED="1",
    )
    return environ


def _start(directory: Path, log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "devstack"],
            cwd=ROOT,
            env=_environ(directory),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _wait_ready(stack: subprocess.Popen, directory: Path, log: Path) -> dict[str, Any]:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if stack.poll() is not None:
            raise SystemExit(f"fuzz: the local stack exited ({stack.returncode}):\n{log.read_text(errors='replace')}")
        try:
            env = json.loads((directory / "env.json").read_text())
            with urllib.request.urlopen(f"{env['api_url']}/health", timeout=5) as reply:
                if reply.status == 200:
                    return env
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    raise SystemExit(f"fuzz: the local stack was not ready in {START_TIMEOUT:.0f} s; see {log}")


def _stop(stack: subprocess.Popen) -> None:
    if stack.poll() is None:
        stack.terminate()
    try:
        stack.wait(timeout=20)
    except subprocess.TimeoutExpired:
        stack.kill()
        stack.wait()


def _skus(api_url: str) -> list[str]:
    """Every active SKU of the demo catalogue (the hooks put real ones on positive order lines)."""
    skus, cursor = [], None
    while True:
        query = "limit=100" + (f"&cursor={cursor}" if cursor else "")
        with urllib.request.urlopen(f"{api_url}/products?{query}", timeout=10) as reply:
            page = json.load(reply)
        skus += [item["sku"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            return skus


def _category(api_url: str) -> str:
    """A category of the demo catalogue (the hooks put it on positive product bodies)."""
    with urllib.request.urlopen(f"{api_url}/categories", timeout=10) as reply:
        return json.load(reply)["items"][0]["category"]


def _token(directory: Path, email: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "devstack.token", email],
        cwd=ROOT,
        env=_environ(directory),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"fuzz: could not sign in {email}: {done.stderr.strip()}")
    return done.stdout.strip()


def _subject(token: str) -> str:
    """The ``sub`` of an ID token (its payload, not checked: it is ours)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]


def _fuzz(role: str, token: str, api_url: str, skus: list[str], max_examples: int | None, customer_id: str) -> Result:
    report = REPORTS / f"{role}.json"
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(HERE / "schemathesis.toml"),
        "--no-color",
        "run",
        f"{api_url}/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--workers",
        "1",
        "--report",
        "json,junit",
        "--report-json-path",
        str(report),
        "--report-junit-path",
        str(REPORTS / f"{role}.xml"),
        *(["--max-examples", str(max_examples)] if max_examples else []),
    ]
    environ = {**os.environ, "SCHEMATHESIS_HOOKS": str(HERE / "hooks.py"), "FUZZ_SKUS": ",".join(skus),
               "FUZZ_CUSTOMER_ID": customer_id, "FUZZ_CATEGORY": _category(api_url)}  # fmt: skip
    print(f"fuzz [{role}]: schemathesis run {api_url}/openapi.json (log: build/fuzz/{role}.log)", flush=True)
    with (REPORTS / f"{role}.log").open("w") as out:
        done = subprocess.run(command, cwd=ROOT, env=environ, stdout=out, stderr=subprocess.STDOUT, check=False)
    try:
        document = json.loads(report.read_text())
    except (OSError, ValueError):
        print((REPORTS / f"{role}.log").read_text(errors="replace")[-5000:])
        return Result(role, done.returncode or 1, 0, 1, ["no report: see the log above"])
    cases = document["test_cases"]
    summary = [f"{f['code']} {f['title']}: {f['count']} ({', '.join(f['operations'])})" for f in document["failures"]]
    summary += [f"error: {e['title']}: {e['count']}" for e in document["errors"]]
    if done.returncode != 0 and not summary:
        summary.append(f"schemathesis exited {done.returncode}: see build/fuzz/{role}.log")
    failures = sum(f["count"] for f in document["failures"]) + sum(e["count"] for e in document["errors"])
    if failures:
        print((REPORTS / f"{role}.log").read_text(errors="replace")[-20000:])
    return Result(role, done.returncode, cases["generated"], failures, summary)


if __name__ == "__main__":
    sys.exit(main())
