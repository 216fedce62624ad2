"""``make deploy`` as a deployer runs it, without AWS: the exact commands (``DRY_RUN=1``), the clear refusal
without an artifact bucket, and the packaged template as CloudFormation gets it after the SAM transform
(aws-sam-translator, offline, in the infra tools' venv that ``make test`` installs)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.test_packaged_template import package

ROOT = Path(__file__).resolve().parent.parent
INFRA_PYTHON = ROOT / ".venv" / "infra-tools" / "bin" / "python"


def run(*command: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", **env}
    return subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_dry_run_prints_the_package_and_deploy_commands_with_the_stages_stack_bucket_and_parameters(stage):
    done = run(sys.executable, "infra/deploy.py", stage, "--bucket", "my-artifacts", "--dry-run")
    assert done.returncode == 0, done.stderr
    package_step, deploy_step = (shlex.split(line) for line in done.stdout.splitlines())
    assert package_step[:3] == ["aws", "cloudformation", "package"]
    assert option(package_step, "--template-file") == f"build/{stage}/sam.json"
    assert option(package_step, "--s3-bucket") == "my-artifacts"
    packaged = option(package_step, "--output-template-file")
    assert deploy_step[:3] == ["aws", "cloudformation", "deploy"]
    assert option(deploy_step, "--template-file") == packaged
    assert option(deploy_step, "--stack-name") == f"orders-api-{stage}"
    assert option(deploy_step, "--s3-bucket") == "my-artifacts"  # the template is over 51,200 bytes
    capabilities = deploy_step[deploy_step.index("--capabilities") + 1 :][:2]
    assert set(capabilities) == {"CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"}  # roles; the SAM transform
    overrides = deploy_step[deploy_step.index("--parameter-overrides") + 1 :]
    assert overrides == [f"Stage={stage}", f"StripeSecretsPath=/orders-api/{stage}/stripe"]


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_make_deploy_packages_then_deploys_and_refuses_without_a_bucket():
    planned = run("make", "-n", "deploy", "STAGE=prod", "BUCKET=my-artifacts", "DRY_RUN=1")
    assert planned.returncode == 0, planned.stderr
    assert "package STAGE=prod" in planned.stdout
    assert "infra/deploy.py prod --bucket 'my-artifacts' --dry-run" in planned.stdout

    refused = run("make", "deploy", "STAGE=dev")
    assert refused.returncode != 0
    assert "BUCKET=<artifact bucket> is required" in refused.stderr
    assert "Packaged" not in refused.stdout  # refused before packaging anything
    assert run(sys.executable, "infra/deploy.py", "dev").returncode == 2


@pytest.fixture(scope="module", params=["dev", "prod"])
def cloudformation(request, tmp_path_factory) -> dict[str, Any]:
    if not INFRA_PYTHON.exists():
        pytest.skip("the infra tools' venv is made by make test (make .venv/infra-tools/.installed)")
    sam = package(tmp_path_factory, request.param)
    folder = tmp_path_factory.mktemp("translated")
    (folder / "sam.json").write_text(json.dumps(sam))
    done = run(str(INFRA_PYTHON), "infra/translate.py", str(folder / "sam.json"), str(folder / "cfn.json"))
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads((folder / "cfn.json").read_text())


def test_after_the_sam_transform_the_stream_mappings_the_stage_and_the_functions_keep_their_settings(cloudformation):
    """What the transform makes of the merge template's settings: the event source mappings still bisect, bound
    their retries and send failures to SQS; the gateway stage is traced, throttled and access-logged; functions
    are traced and named per stage."""
    found = cloudformation["Resources"]
    assert not [r for r in found.values() if r["Type"].startswith("AWS::Serverless::")]
    mappings = {n: r["Properties"] for n, r in found.items() if r["Type"] == "AWS::Lambda::EventSourceMapping"}
    streams = [m for m in mappings.values() if "StartingPosition" in m]
    assert len(streams) == 2
    for mapping in streams:
        assert mapping["BisectBatchOnFunctionError"] is True and mapping["MaximumRetryAttempts"] >= 0
        assert "Destination" in mapping["DestinationConfig"]["OnFailure"]
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    (stage,) = [r["Properties"] for r in found.values() if r["Type"] == "AWS::ApiGateway::Stage"]
    assert stage["TracingEnabled"] is True and stage["AccessLogSetting"]["Format"].startswith("{")
    assert stage["MethodSettings"][0]["ThrottlingRateLimit"]
    for resource in (r for r in found.values() if r["Type"] == "AWS::Lambda::Function"):
        assert resource["Properties"]["TracingConfig"] == {"Mode": "Active"}
        assert "${Stage}" in resource["Properties"]["FunctionName"]["Fn::Sub"]
