"""``python -m bench`` (``make bench``): run every benchmark on one local stack, print the report, save it as JSON.

Exits 1 if any target is missed (or a benchmark could not run), 0 otherwise.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime

from bench import (
    cold_start,
    dynamodb_calls,
    exports,
    fulfilment_calls,
    fulfilment_throughput,
    growth,
    harness,
    imports,
    payment_calls,
    stream_calls,
    throughput,
)

REPORT = harness.ROOT / "build" / "bench.json"


def main() -> int:
    harness.configure_environment()  # before anything imports chalicelib.config

    started = time.perf_counter()
    sections: list[harness.Section] = []
    print("Benchmarks: the app on a local emulator (moto on loopback), as in the test stack.\n", flush=True)
    with harness.local_stack() as stack:
        for benchmark in (
            cold_start,
            dynamodb_calls,
            payment_calls,
            fulfilment_calls,
            throughput,
            fulfilment_throughput,
            stream_calls,
            growth,
            imports,
            exports,
        ):
            section_started = time.perf_counter()
            section = benchmark.run(stack)
            section.data["elapsed_s"] = time.perf_counter() - section_started
            section.lines.append(f"  (took {section.data['elapsed_s']:.1f} s)")
            print(section.render(), flush=True)
            sections.append(section)
        totals = stack.calls.totals()
    scans = totals["Scan"] + totals["ParallelScan"]
    checks = [check for section in sections for check in section.checks]
    checks.append(
        harness.Check("Scans anywhere in this run", f"{scans} of {sum(totals.values())} calls", "0", scans == 0)
    )
    passed = all(check.passed for check in checks)
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux

    print("Summary")
    print("-------")
    for check in checks:
        print(f"  {check.line()}")
    print(f"\n{'ALL TARGETS MET' if passed else 'SOME TARGETS MISSED (exit status 1)'} in {elapsed:.1f} s", end="")
    print(f" (peak memory of this process, emulator included: {peak_mb:.0f} MiB); report saved to {REPORT}")
    report = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "elapsed_s": elapsed,
        "peak_rss_mib": peak_mb,
        **{section.key: section.data for section in sections},
        "dynamodb_calls_in_run": dict(totals),
        "checks": [asdict(check) for check in checks],
        "passed": passed,
    }
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
