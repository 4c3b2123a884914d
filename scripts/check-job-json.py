#!/usr/bin/env python3
"""Checks the golden job documents (Tests/FerryTests/Golden) against openapi.yaml.

usage: check-job-json.py OPENAPI_YAML GOLDEN_FILE...

A file's name says what it is:
  status-*.json   a job GET's answer: components/schemas/JobStatus
  webhook-*.json  a webhook delivery's body: JobStatus without `deliveries` (OnComplete says so)
  list-*.json     one item of a GET /media/jobs answer: JobList's `jobs` items

Beyond the schema, every object must declare each field it has (`additionalProperties: false` is added to
every object schema that lists properties and does not say otherwise: `result` declares
`additionalProperties: true`, its fields being each operation's own): a field the server sends must be in the
spec. Prints one line per problem and exits 1 if there was any; exits 3 when the validator
is not installed (the Swift test skips then; `make test` installs it into .venv).
"""

import copy
import json
import os
import sys

try:
    import yaml
    from openapi_schema_validator import OAS31Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012
except ImportError as missing:
    print(f"missing Python package: {missing.name} (pip install -r requirements-test.txt)", file=sys.stderr)
    sys.exit(3)

SPEC_URI = "urn:ferry:openapi"


def closed(schema):
    """`schema` with additionalProperties false on every object schema that lists its properties."""
    if isinstance(schema, dict):
        schema = {key: closed(value) for key, value in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [closed(value) for value in schema]
    return schema


def main(arguments):
    if len(arguments) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(arguments[0]) as file:
        spec = yaml.safe_load(file)
    schemas = spec["components"]["schemas"]
    webhook = copy.deepcopy(schemas["JobStatus"])
    webhook["required"] = [name for name in webhook["required"] if name != "deliveries"]
    # Checked under names of their own, in the document, so their $refs (#/components/...) resolve.
    schemas["GoldenWebhookBody"] = webhook
    schemas["GoldenListItem"] = schemas["JobList"]["properties"]["jobs"]["items"]
    spec["components"]["schemas"] = closed(schemas)
    kinds = {"status": "JobStatus", "webhook": "GoldenWebhookBody", "list": "GoldenListItem"}
    registry = Registry().with_resource(SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT202012))

    problems = 0
    for path in arguments[1:]:
        name = os.path.basename(path)
        kind = name.split("-", 1)[0]
        if kind not in kinds:
            print(f"{name}: the name should start with one of {', '.join(kinds)}")
            problems += 1
            continue
        schema = {"$ref": f"{SPEC_URI}#/components/schemas/{kinds[kind]}"}
        validator = OAS31Validator(schema, registry=registry, format_checker=OAS31Validator.FORMAT_CHECKER)
        with open(path) as file:
            document = json.load(file)
        for error in sorted(validator.iter_errors(document), key=lambda error: list(error.absolute_path)):
            where = "/".join(str(part) for part in error.absolute_path) or "(top)"
            print(f"{name}: {where}: {error.message}")
            problems += 1
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
