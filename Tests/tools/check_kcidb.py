#!/usr/bin/env python3
"""Checks a KCIDB report with kcidb-io, KernelCI's own I/O library: validated against schema v5.3 exactly (the
JSON Schema with its formats: date-time, uri), then each object's parent looked up (kcidb-io's schema does not
check that a test's build or an incident's issue is there).

Usage: check_kcidb.py KCIDB_JSON
Prints the schema version, the counts, and each problem; exits 1 on any problem.
"""
import json
import sys

import jsonschema
import kcidb_io


def main(path):
    with open(path) as f:
        data = json.load(f)
    version = kcidb_io.schema.V5_3
    print(f"kcidb-io: latest schema v{kcidb_io.schema.LATEST.major}.{kcidb_io.schema.LATEST.minor}")
    try:
        version.validate_exactly(data)
    except jsonschema.exceptions.ValidationError as error:
        where = "/".join(map(str, error.absolute_path))
        print(f"kcidb: {where}: {error.message}")
        return 1
    problems = []
    ids = {kind: {o["id"] for o in data.get(kind, [])} for kind in ("checkouts", "builds", "tests", "issues")}
    for kind, objects in version.get_ids(data).items():
        if len(objects) != len(set(objects)):
            problems.append(f"{kind}: ids are not unique")
    for build in data.get("builds", []):
        if build["checkout_id"] not in ids["checkouts"]:
            problems.append(f"build {build['id']}: no checkout {build['checkout_id']}")
    for test in data.get("tests", []):
        if test["build_id"] not in ids["builds"]:
            problems.append(f"test {test['id']}: no build {test['build_id']}")
    for incident in data.get("incidents", []):
        if incident["issue_id"] not in ids["issues"]:
            problems.append(f"incident {incident['id']}: no issue {incident['issue_id']}")
        if "test_id" in incident and incident["test_id"] not in ids["tests"]:
            problems.append(f"incident {incident['id']}: no test {incident['test_id']}")
    for problem in problems:
        print("kcidb: " + problem)
    if problems:
        return 1
    kinds = ("checkouts", "builds", "tests", "issues", "incidents")
    counts = " ".join(f"{kind}={len(data.get(kind, []))}" for kind in kinds)
    statuses = ",".join(sorted(t.get("status", "-") for t in data.get("tests", [])))
    print(f"kcidb: valid v{version.major}.{version.minor}: {counts}")
    print(f"kcidb: test statuses {statuses}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
