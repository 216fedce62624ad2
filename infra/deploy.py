"""``make deploy STAGE=dev|prod BUCKET=...``: upload the packaged stage and create or update its stack.

Runs, after ``make package`` has written build/STAGE/sam.json and deployment.zip:

1. ``aws cloudformation package``: uploads deployment.zip to the artifact bucket and writes build/STAGE/packaged.json
   with the S3 location in every function's ``CodeUri``;
2. ``aws cloudformation deploy``: the stack ``orders-api-STAGE`` from that template, itself uploaded to the bucket
   (``--s3-bucket``: the template is over CloudFormation's 51,200-byte limit for inline templates), with
   ``CAPABILITY_IAM`` (the functions' roles) and ``CAPABILITY_AUTO_EXPAND`` (the ``AWS::Serverless`` transform), and
   the stage's parameters (``Stage``, ``StripeSecretsPath=/orders-api/STAGE/stripe``).

``--dry-run`` (``make deploy DRY_RUN=1``) prints the exact commands instead of running them.

Usage: python infra/deploy.py STAGE --bucket BUCKET [--region REGION] [--dry-run]
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from package import stripe_path

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("dev", "prod")


def stack_name(stage: str) -> str:
    """The CloudFormation stack of ``stage``."""
    return f"orders-api-{stage}"


def commands(stage: str, bucket: str, region: str, build: Path | None = None) -> list[list[str]]:
    """The two AWS CLI commands that deploy the packaged ``stage`` through ``bucket``."""
    build = build or Path("build") / stage
    prefix = stack_name(stage)
    packaged = str(build / "packaged.json")
    return [
        ["aws", "cloudformation", "package", "--region", region, "--template-file", str(build / "sam.json"),
         "--s3-bucket", bucket, "--s3-prefix", prefix, "--use-json", "--output-template-file", packaged],
        ["aws", "cloudformation", "deploy", "--region", region, "--template-file", packaged,
         "--stack-name", prefix, "--s3-bucket", bucket, "--s3-prefix", prefix,
         "--capabilities", "CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND", "--no-fail-on-empty-changeset",
         "--parameter-overrides", f"Stage={stage}", f"StripeSecretsPath={stripe_path(stage)}"],
    ]  # fmt: skip


def main(argv: list[str]) -> int:
    """Deploy (or with --dry-run print) the stage; exits 2 on a usage error, else the CLI's exit status."""
    parser = argparse.ArgumentParser(prog="make deploy", description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=STAGES)
    parser.add_argument("--bucket", default="", help="an S3 bucket you own, in the region, for code and template")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args = parser.parse_args(argv)
    if not args.bucket:
        print("make deploy: BUCKET=<artifact bucket> is required (an S3 bucket you own in the stack's region, e.g. "
              "`aws s3 mb s3://my-orders-artifacts`), e.g. make deploy STAGE=dev BUCKET=my-orders-artifacts",
              file=sys.stderr)  # fmt: skip
        return 2
    region = args.region or "us-east-1"
    build = ROOT / "build" / args.stage
    steps = commands(args.stage, args.bucket, region, Path("build") / args.stage)
    if args.dry_run:
        for step in steps:
            print(shlex.join(step))
        return 0
    if not (build / "sam.json").exists():
        print(f"make deploy: {build / 'sam.json'} is missing; run make package STAGE={args.stage}", file=sys.stderr)
        return 2
    if shutil.which("aws") is None:
        print("make deploy: the AWS CLI (aws) is not installed; see README, Deploying to AWS", file=sys.stderr)
        return 2
    for step in steps:
        print("+", shlex.join(step), flush=True)
        done = subprocess.run(step, cwd=ROOT)
        if done.returncode:
            return done.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
