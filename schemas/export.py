"""JSON Schema files for the public events: what shops, devices and carriers code against."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import create_model

from schemas.base import Payload
from schemas.envelope import Envelope
from schemas.registry import PUBLIC_TOPICS, TOPICS

JSON_DIR = Path(__file__).parent / "json"


def envelope_schema(topic: str, model: type[Payload]) -> dict[str, Any]:
    """The full message schema for one event: the envelope with its typed payload and fixed type/version."""
    fields: dict[str, Any] = {
        "event_type": (Literal[model.EVENT_TYPE], ...),
        "schema_version": (Literal[model.SCHEMA_VERSION], ...),
        "payload": (model, ...),
    }
    typed = create_model(f"{model.__name__}Event", __base__=Envelope, **fields)
    schema = typed.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://fulfil.dev/schemas/{topic}/{model.EVENT_TYPE}.v{model.SCHEMA_VERSION}.json"
    schema["description"] = (model.__doc__ or "").strip() or f"{model.EVENT_TYPE} on {topic}"
    return schema


def rendered() -> dict[str, str]:
    """File name -> file text, for every public event at every schema version."""
    files: dict[str, str] = {}
    for topic in PUBLIC_TOPICS:
        for versions in TOPICS[topic].values():
            for model in versions.values():
                name = f"{topic}.{model.EVENT_TYPE}.v{model.SCHEMA_VERSION}.json"
                files[name] = json.dumps(envelope_schema(topic, model), indent=2, sort_keys=True) + "\n"
    return files


def write(directory: Path = JSON_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    wanted = rendered()
    for stale in directory.glob("*.json"):
        if stale.name not in wanted:
            stale.unlink()
    paths = []
    for name, text in sorted(wanted.items()):
        path = directory / name
        path.write_text(text)
        paths.append(path)
    return paths


def differences(directory: Path = JSON_DIR) -> list[str]:
    """Names of schema files that are missing, stale or extra compared with the models."""
    wanted = rendered()
    present = {p.name: p.read_text() for p in directory.glob("*.json")} if directory.exists() else {}
    problems = [f"missing {n}" for n in sorted(set(wanted) - set(present))]
    problems += [f"extra {n}" for n in sorted(set(present) - set(wanted))]
    problems += [f"out of date {n}" for n in sorted(wanted) if n in present and present[n] != wanted[n]]
    return problems
