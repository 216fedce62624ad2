"""The packaged SAM template as plain CloudFormation, the way CloudFormation's ``AWS::Serverless`` transform does it.

Runs offline: aws-sam-translator's ``Translator`` only calls IAM (``ManagedPolicyLoader``) to look up the ARNs of
managed policies a function names in ``Policies``; every function of this template has its own ``Role`` and no
``Policies``, so an empty policy map is given and no AWS call or credential is needed. The region is fixed to
us-east-1 (``ArnGenerator`` reads it from the boto session; it only picks the partition). Local ``CodeUri``s
(``./deployment.zip``) are first replaced by an S3 URI, as ``aws cloudformation package`` does on deploy.

Usage: python infra/translate.py SAM_TEMPLATE OUT   (run with the infra tools' venv: make test does)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

PACKAGED_CODE = "s3://artifact-bucket/orders-api/deployment.zip"  # what `aws cloudformation package` writes


def as_packaged(sam: dict[str, Any], code_uri: str = PACKAGED_CODE) -> dict[str, Any]:
    """``sam`` with every local ``CodeUri`` replaced by an S3 URI, as ``aws cloudformation package`` leaves it."""
    for resource in sam.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function" and not str(properties.get("CodeUri")).startswith("s3:"):
            properties["CodeUri"] = code_uri
    return sam


def translate(sam: dict[str, Any], region: str = "us-east-1") -> dict[str, Any]:
    """``sam`` (a parsed SAM template) translated to CloudFormation."""
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    session = boto3.session.Session(region_name=region)
    translator = Translator(managed_policy_map={}, sam_parser=Parser(), boto_session=session)
    return translator.translate(sam_template=sam, parameter_values={}, get_managed_policy_map=lambda: {})


def main(argv: list[str]) -> int:
    """Translate argv[0] into argv[1]; a translation error is printed and exits 1."""
    if len(argv) != 2:
        print("usage: python infra/translate.py SAM_TEMPLATE OUT", file=sys.stderr)
        return 2
    from samtranslator.model.exceptions import InvalidDocumentException

    source, out = Path(argv[0]), Path(argv[1])
    try:
        template = translate(as_packaged(json.loads(source.read_text())))
    except InvalidDocumentException as error:
        for cause in error.causes:
            print(f"{source}: {cause.message}", file=sys.stderr)
        return 1
    out.write_text(json.dumps(template, indent=2, default=str) + "\n")
    print(f"Translated {source} to CloudFormation in {out} ({len(template['Resources'])} resources).")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
