"""Checks every exchange the end-to-end tests recorded (tests/support/
exchanges.rs) against openapi.yaml with openapi-core, a real OpenAPI
validator, so that a drift between the server and its contract fails CI.

- Every reply must be one the spec documents for its operation and status,
  with a body valid against that response's schema.
- Every request answered 2xx must be valid against the spec: the server
  accepting what the contract forbids is drift too. (Refused requests are
  often invalid on purpose: the hostile tests send them.)
- A request to an undocumented path or method must have been refused with
  404 `route_not_found` or 405 `method_not_allowed` and an error body.

Usage: validate.py <openapi.yaml> <dir of exchanges-*.jsonl>
"""

import collections
import glob
import json
import os
import sys
import urllib.parse

import yaml
from jsonschema import Draft4Validator
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_spec_validator import validate as validate_spec

HOST = "http://localhost"


def first_error(error):
    """The innermost cause of an openapi-core error, in one line."""
    seen = error
    while getattr(seen, "__cause__", None) is not None:
        seen = seen.__cause__
    details = getattr(seen, "schema_errors", None) or getattr(error, "schema_errors", None)
    text = f"{type(error).__name__}: {error}"
    if details:
        text += " | " + "; ".join(
            f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message[:300]}" for e in details[:3]
        )
    elif seen is not error:
        text += f" | {type(seen).__name__}: {str(seen)[:300]}"
    return text if len(text) <= 600 else text[:600] + " ..."


def console_inner(x):
    """The console's route answers {status, body} inside a 200 (see
    functions/local-api/src/console.rs): check the route's own answer. A body
    over the size limit is refused before any route, as a JSON 413."""
    try:
        reply = json.loads(x["responseBody"])
    except ValueError:
        return None
    inner = dict(x, path=x["path"][len("/console/api"):])
    if x["status"] == 200 and isinstance(reply, dict) and set(reply) == {"status", "body"}:
        inner["status"] = reply["status"]
        inner["responseBody"] = json.dumps(reply["body"])
        return inner
    if x["status"] == 413 and reply.get("error", {}).get("code") == "payload_too_large":
        return inner
    return None


def main():
    spec_path, exchanges_dir = sys.argv[1], sys.argv[2]
    spec_dict = yaml.safe_load(open(spec_path))
    validate_spec(spec_dict)
    api = OpenAPI.from_file_path(spec_path)
    error_schema = Draft4Validator(spec_dict["components"]["schemas"]["Error"])
    templates = list(spec_dict["paths"].items())

    def decoded(path):
        # Path parameters as the service reads them: each segment
        # percent-decoded (one that would decode to a `/` is left as it is,
        # so the path keeps its shape).
        segments = []
        for segment in path.split("/"):
            try:
                plain = urllib.parse.unquote(segment, errors="strict")
            except UnicodeDecodeError:
                plain = "/"
            segments.append(segment if "/" in plain else plain)
        return "/".join(segments)

    def documented(path, method):
        for template, item in templates:
            t = template.strip("/").split("/")
            p = path.strip("/").split("/")
            if len(t) == len(p) and all(a.startswith("{") or a == b for a, b in zip(t, p)):
                return template, method.lower() in item
        return None, False

    files = sorted(glob.glob(os.path.join(exchanges_dir, "exchanges-*.jsonl")))
    if not files:
        sys.exit(f"no exchanges recorded in {exchanges_dir}: is E2E_EXCHANGES_DIR set for the tests?")
    seen = collections.Counter()
    failures = []
    total = 0
    for name in files:
        for line in open(name):
            x = json.loads(line)
            total += 1
            if x["path"].startswith("/console/api/"):
                x = console_inner(x)
                if x is None:
                    failures.append(f"{name}: a /console/api reply that is not an envelope or a JSON 413")
                    continue
            method, path, status = x["method"], x["path"], x["status"]
            template, method_known = documented(path, method)
            seen[(method, template or "(undocumented)", status)] += 1
            where = f"{x['test']}: {method} {path}{'?' + x['query'] if x['query'] else ''} -> {status}"
            if template is None or not method_known:
                expected = (404, "route_not_found") if template is None else (405, "method_not_allowed")
                try:
                    body = json.loads(x["responseBody"])
                    code = body["error"]["code"]
                except Exception:
                    body, code = None, None
                if (status, code) != expected or list(error_schema.iter_errors(body)):
                    failures.append(f"{where}: undocumented, answered {status} {code!r}, expected {expected}")
                continue
            args = {k: v[0] for k, v in urllib.parse.parse_qs(x["query"], keep_blank_values=True).items()}
            body = x["requestBody"]
            request = MockRequest(
                HOST,
                method.lower(),
                decoded(path),
                args=args,
                data=(body or "").encode() if body is not None else None,
                content_type="application/json" if body is not None else None,
            )
            headers = x["headers"]
            response = MockResponse(
                data=x["responseBody"].encode(),
                status_code=status,
                headers=headers,
                content_type=headers.get("content-type", "application/json"),
            )
            if 200 <= status < 300 and not x["requestBodyOmitted"]:
                try:
                    api.validate_request(request)
                except Exception as e:
                    failures.append(f"{where}: request accepted but invalid: {first_error(e)}")
            try:
                api.validate_response(request, response)
            except Exception as e:
                failures.append(f"{where}: reply invalid: {first_error(e)}")
    print(f"{total} exchanges from {len(files)} test processes checked against {spec_path}")
    for (method, template, status), n in sorted(seen.items()):
        print(f"  {n:6d}  {method:6s} {template} -> {status}")
    if failures:
        unique = list(dict.fromkeys(failures))
        print(f"\n{len(failures)} exchanges disagree with the spec ({len(unique)} distinct):")
        for f in unique[:80]:
            print("  " + f)
        sys.exit(1)
    print("every exchange agrees with the spec")


if __name__ == "__main__":
    main()
