#!/usr/bin/env python3
"""Checks xentest's reports with tools nobody here wrote: report.json against the JSON Schema (jsonschema),
junit.xml through junitparser (what Python CI tooling uses to read JUnit files).

Usage: check_reports.py SCHEMA REPORT_JSON JUNIT_XML
Prints one line per check and the counts junitparser read; exits 1 on any problem.
"""
import json
import sys

import jsonschema
from junitparser import Error, Failure, JUnitXml, Skipped


def main(schema_path, report_path, junit_path):
    with open(schema_path) as f:
        schema = json.load(f)
    with open(report_path) as f:
        report = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(report), key=str)
    for error in errors:
        print(f"report.json: {'/'.join(map(str, error.absolute_path))}: {error.message}")
    if not errors:
        print("report.json: valid")

    xml = JUnitXml.fromfile(junit_path)
    tests = failures = errors_ = skipped = 0
    suites = []
    for suite in xml:
        suites.append(suite.name)
        for case in suite:
            tests += 1
            kinds = {type(r) for r in case.result}
            failures += Failure in kinds
            errors_ += Error in kinds
            skipped += Skipped in kinds
    print(f"junit.xml: suites={','.join(suites)} tests={tests} failures={failures} errors={errors_} skipped={skipped}")
    declared = (xml.tests, xml.failures, xml.errors, xml.skipped)
    if declared != (tests, failures, errors_, skipped):
        print(f"junit.xml: declared totals {declared} differ from the test cases")
        return 1
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
