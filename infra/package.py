"""``make package STAGE=...``: the deployable SAM template and zip of one stage, in build/STAGE.

Runs ``chalice package --stage STAGE --merge-template infra/resources.json`` with the stage's
CORS_ALLOW_ORIGIN from .chalice/config.json exported (``chalice package`` imports app.py, whose
CORS configuration, and so the preflight answers, is read from the environment), then writes that
origin into the API Gateway error responses of infra/resources.json (``@CORS_ALLOW_ORIGIN@``), so a
browser on the stage's origin can read a 401, 404 or 5xx as it reads the app's own answers; those responses
are moved into the API's OpenAPI body, where an update of the API cannot drop them. The template's
``Stage`` and ``StripeSecretsPath`` parameters default to the stage packaged (``/orders-api/STAGE/stripe``), so a
dev and a prod stack in one account name their functions, log groups and API apart and read different keys.

Usage: python infra/package.py STAGE [OUT]   (OUT defaults to build/STAGE)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = "@CORS_ALLOW_ORIGIN@"
ORIGIN = re.compile(r"\*|https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")
ALLOW_ORIGIN = "gatewayresponse.header.Access-Control-Allow-Origin"


class PackageError(Exception):
    """Why the stage cannot be packaged, in a sentence for the deployer."""


def stage_origin(stage: str, config_file: Path = ROOT / ".chalice" / "config.json") -> str:
    """The stage's CORS_ALLOW_ORIGIN, as Chalice merges the top-level and stage environment variables."""
    from chalice.config import Config

    on_disk = json.loads(config_file.read_text())
    if stage not in on_disk.get("stages", {}):
        raise PackageError(f"there is no stage {stage!r} in {config_file} (stages: {', '.join(on_disk['stages'])}).")
    origin = Config(chalice_stage=stage, config_from_disk=on_disk).environment_variables.get("CORS_ALLOW_ORIGIN")
    if not origin or not ORIGIN.fullmatch(origin):
        raise PackageError(
            f"stage {stage!r} needs CORS_ALLOW_ORIGIN in its environment_variables in {config_file}: the web shop's "
            f"origin (scheme://host[:port], no path, e.g. https://shop.example.com) or *, not {origin!r}."
        )
    return origin


def set_origin(template: dict[str, Any], origin: str) -> int:
    """Write ``origin`` into every gateway response's CORS header (and S3 buckets' CORS rules); returns how many
    gateway responses there are."""
    count = 0
    for name, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::ApiGateway::GatewayResponse":
            continue
        parameters = resource.setdefault("Properties", {}).setdefault("ResponseParameters", {})
        if parameters.get(ALLOW_ORIGIN) != f"'{PLACEHOLDER}'":
            raise PackageError(f"gateway response {name} must send {ALLOW_ORIGIN} = '{PLACEHOLDER}' (resources.json).")
        parameters[ALLOW_ORIGIN] = f"'{origin}'"
        count += 1
    for resource in template.get("Resources", {}).values():  # buckets browsers download from (receipts)
        if resource.get("Type") == "AWS::S3::Bucket":
            for rule in resource.get("Properties", {}).get("CorsConfiguration", {}).get("CorsRules", []):
                rule["AllowedOrigins"] = [origin if o == PLACEHOLDER else o for o in rule.get("AllowedOrigins", [])]
    if PLACEHOLDER in json.dumps(template):
        raise PackageError(f"{PLACEHOLDER} is left somewhere other than a gateway response's CORS header.")
    return count


def embed_gateway_responses(template: dict[str, Any]) -> int:
    """Move every ``AWS::ApiGateway::GatewayResponse`` into the API's OpenAPI body
    (``x-amazon-apigateway-gateway-responses``); returns how many.

    A REST API defined by a body is re-imported whole on each update, and gateway responses kept as resources of
    their own beside it can be dropped by that import while CloudFormation still thinks they exist (cfn-lint W3660):
    inside the body they are part of every import. infra/resources.json keeps them as resources, which the local
    gateway reads too.
    """
    responses = {}
    for name, resource in list(template.get("Resources", {}).items()):
        if resource.get("Type") != "AWS::ApiGateway::GatewayResponse":
            continue
        properties = resource["Properties"]
        if properties.get("RestApiId") != {"Ref": "RestAPI"}:
            raise PackageError(f"gateway response {name} must belong to RestAPI (resources.json).")
        response: dict[str, Any] = {
            "responseParameters": properties.get("ResponseParameters", {}),
            "responseTemplates": properties.get("ResponseTemplates", {}),
        }
        if "StatusCode" in properties:
            response["statusCode"] = int(properties["StatusCode"])
        responses[properties["ResponseType"]] = response
        del template["Resources"][name]
    body = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    body["x-amazon-apigateway-gateway-responses"] = responses
    return len(responses)


def set_stage(template: dict[str, Any], stage: str) -> None:
    """Default the template's ``Stage`` parameter to ``stage`` and its Stripe SSM path to the stage's own."""
    parameters = template.get("Parameters", {})
    for name in ("Stage", "StripeSecretsPath"):
        if name not in parameters:
            raise PackageError(f"infra/resources.json must declare the {name} parameter.")
    if stage not in parameters["Stage"].get("AllowedValues", [stage]):
        raise PackageError(f"the Stage parameter does not allow {stage!r} (infra/resources.json).")
    parameters["Stage"]["Default"] = stage
    parameters["StripeSecretsPath"]["Default"] = stripe_path(stage)


def stripe_path(stage: str) -> str:
    """The SSM path of the stage's Stripe keys (``api_key`` and ``webhook_secret`` under it)."""
    return f"/orders-api/{stage}/stripe"


def package(stage: str, out: Path) -> str:
    """Package ``stage`` into ``out``; returns the origin written into it."""
    origin = stage_origin(stage)
    shutil.rmtree(out, ignore_errors=True)
    chalice = Path(sys.executable).with_name("chalice")
    command = [str(chalice), "package", "--stage", stage, "--merge-template", "infra/resources.json", str(out)]
    env = {"AWS_DEFAULT_REGION": "us-east-1", **os.environ, "CORS_ALLOW_ORIGIN": origin}  # the Makefile's default
    done = subprocess.run(command, cwd=ROOT, env=env)
    if done.returncode:
        raise PackageError(f"chalice package failed (exit {done.returncode}); see above.")
    sam = out / "sam.json"
    template = json.loads(sam.read_text())
    set_origin(template, origin)
    set_stage(template, stage)
    embed_gateway_responses(template)
    sam.write_text(json.dumps(template, indent=2) + "\n")
    return origin


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2):
        print("usage: python infra/package.py STAGE [OUT]", file=sys.stderr)
        return 2
    stage = argv[0]
    out = Path(argv[1]) if len(argv) == 2 else ROOT / "build" / stage
    try:
        origin = package(stage, out)
    except PackageError as error:
        print(f"make package: {error}", file=sys.stderr)
        return 1
    print(f"Packaged stage {stage} into {out} (CORS origin {origin}).")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
