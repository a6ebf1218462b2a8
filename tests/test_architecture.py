"""Rules ruff cannot see: service boundaries, who talks to Kafka, who commits, docs in sync."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ["partners", "reviews", "notifications", "reporting"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _service_files(service: str) -> list[Path]:
    return sorted((ROOT / "services" / service).rglob("*.py"))


@pytest.mark.parametrize("service", SERVICES)
def test_no_service_imports_another_service(service: str) -> None:
    others = [f"services.{s}" for s in SERVICES if s != service]
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _service_files(service)
        for name in _imports(path)
        if any(name == o or name.startswith(o + ".") for o in others)
    ]
    assert offenders == []


@pytest.mark.parametrize("service", SERVICES)
def test_only_shared_talks_to_kafka(service: str) -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in _service_files(service)
        if any(n == "aiokafka" or n.startswith("aiokafka.") for n in _imports(path))
    ]
    assert offenders == []


@pytest.mark.parametrize("service", SERVICES)
def test_services_never_commit_themselves(service: str) -> None:
    """The shared plumbing owns transactions (one per request and per consumed event)."""
    offenders = []
    for path in _service_files(service):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "commit"
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_asyncapi_document_is_current() -> None:
    from shared.asyncapi import render

    committed = (ROOT / "docs" / "asyncapi.json").read_text()
    assert committed == render(), "run: .venv/bin/python -m shared.asyncapi > docs/asyncapi.json"


def test_every_event_type_is_named_noun_past_tense() -> None:
    import shared.contracts  # noqa: F401
    from shared.events import REGISTRY

    for type_name, model in REGISTRY.items():
        if not model.__module__.startswith("shared.contracts."):
            continue  # payload types that tests define for themselves
        prefix, noun, verb, version = type_name.split(".")
        assert prefix == "masa" and noun and version.startswith("v"), type_name
        # Past tense; "approaching" is the one exception: a warning that a deadline is near.
        irregular = {"sent", "held", "withdrawn", "left", "set", "met", "approaching"}
        assert verb.endswith("ed") or verb in irregular, type_name
