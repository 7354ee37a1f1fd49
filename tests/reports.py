"""Validators for the report formats: the official SARIF 2.1.0 schema, the Surefire/Jenkins
JUnit schema (both vendored in tests/data, see its README), and the JSON report's own schema
as the package ships it."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import xmlschema

DATA = Path(__file__).resolve().parent / "data"


@cache
def _sarif() -> jsonschema.Draft4Validator:
    return jsonschema.Draft4Validator(json.loads((DATA / "sarif-schema-2.1.0.json").read_text()))


@cache
def _junit() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(DATA / "junit-10.xsd"))


@cache
def _report() -> jsonschema.Draft202012Validator:
    text = resources.files("drift_job").joinpath("schemas/report.schema.json").read_text()
    schema = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def valid_sarif(text: str) -> dict[str, Any]:
    document = json.loads(text)
    _sarif().validate(document)
    for result in document["runs"][0]["results"]:  # GitHub drops an upload otherwise
        region = result["locations"][0]["physicalLocation"]
        assert region["artifactLocation"]["uri"] and region["region"]["startLine"] >= 1
    assert isinstance(document, dict)
    return document


def valid_junit(text: str) -> None:
    _junit().validate(text)


def valid_report(text: str) -> dict[str, Any]:
    document = json.loads(text)
    _report().validate(document)
    assert isinstance(document, dict)
    return document
