#!/usr/bin/env python3
"""Prints infra/template.yaml as the CloudFormation JSON that the SAM
transform makes of it, with aws-sam-translator (pinned in
scripts/lambda-tools.sh), offline: no AWS credentials, no network.

    python3 tests/template/transform.py [Name=Value ...]

Name=Value pairs are parameter values, checked against each parameter's
AllowedPattern and AllowedValues as CloudFormation would (exit 2 when one is
refused); us-east-1 is the region. tests/template.rs runs it.
"""

import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "template.yaml"
TOOLS = ROOT / "scripts" / "lambda-tools.sh"
INSTALL = 'eval "$(scripts/lambda-tools.sh)"'

# Hermetic: the region is fixed and no local AWS config or credentials are read.
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
os.environ["AWS_REGION"] = "us-east-1"
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
os.environ.pop("AWS_PROFILE", None)



def missing(e):
    sys.exit(
        f"{sys.executable} cannot import {e.name}: the template test needs "
        f"aws-sam-translator and PyYAML. Run `{INSTALL}` first (it installs the "
        "pinned Lambda tooling and puts its python3 first on PATH)."
    )


try:
    import yaml
except ImportError as e:
    missing(e)


class Loader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form intrinsic tags."""


def _intrinsic(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {"Fn::" + suffix: value}


Loader.add_multi_constructor("!", _intrinsic)


class NoManagedPolicies:
    """The translator asks for AWS's managed policy map only when a function
    names a managed policy by name; the template names none, and this keeps
    the transform from ever calling IAM."""

    def load(self):
        raise SystemExit(
            "the template names a managed policy by name: the offline transform "
            "cannot resolve it (use its ARN)"
        )


def parameter_values(template, pairs):
    declared = template.get("Parameters", {})
    values = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or name not in declared:
            sys.exit(f"`{pair}`: expected Name=Value for a declared parameter")
        spec = declared[name]
        pattern = spec.get("AllowedPattern")
        if pattern is not None and not re.fullmatch(pattern, value):
            print(f"{name}={value} does not match AllowedPattern {pattern}", file=sys.stderr)
            sys.exit(2)
        allowed = spec.get("AllowedValues")
        if allowed is not None and value not in [str(a) for a in allowed]:
            print(f"{name}={value} is not one of {allowed}", file=sys.stderr)
            sys.exit(2)
        values[name] = value
    return values


def packaged(template):
    """Local CodeUri paths become S3 locations, as `sam package` makes them
    before CloudFormation runs the transform (`sam validate` does the same)."""
    functions = [template.get("Globals", {}).get("Function", {})] + [
        r.get("Properties", {})
        for r in template["Resources"].values()
        if r.get("Type") == "AWS::Serverless::Function"
    ]
    for f in functions:
        if isinstance(f.get("CodeUri"), str) and not f["CodeUri"].startswith("s3://"):
            f["CodeUri"] = "s3://packaged-code/function.zip"
    return template


def main():
    template = packaged(yaml.load(TEMPLATE.read_text(), Loader=Loader))
    values = parameter_values(template, sys.argv[1:])
    try:
        import samtranslator
        from samtranslator.translator.transform import transform
    except ImportError as e:
        missing(e)
    pin = re.search(r"aws-sam-translator==([0-9.]+)", TOOLS.read_text())
    if pin is None or samtranslator.__version__ != pin.group(1):
        sys.exit(
            f"{sys.executable} has aws-sam-translator {samtranslator.__version__}, "
            f"scripts/lambda-tools.sh pins {pin and pin.group(1)}: run `{INSTALL}` first."
        )
    output = transform(template, values, NoManagedPolicies())
    json.dump(output, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
