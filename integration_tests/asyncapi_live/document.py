"""contracts/events/asyncapi.yaml read on its own, with jsonschema: what a message must look like
on the wire. Independent of django_interlink.events.contract, the code these tests check.

Per message: the channel address (the RabbitMQ routing key, and the Redis stream after the
prefix, as the document's servers describe them), the content type, where its correlation id
lives, its `headers` schema if it declares one, and its payload schema.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from integration_tests.helpers import REPO_DIR

EVENTS_DIR = Path(REPO_DIR) / "contracts" / "events"
# The field of a Redis stream entry that carries the envelope (the document's `redis` server).
REDIS_ENVELOPE_FIELD = "envelope"


@dataclass(frozen=True)
class Message:
    """One message of the document, as the brokers must carry it."""

    key: str  # its name under components/messages
    name: str  # the event type
    address: str  # its channel's address
    content_type: str
    correlation_pointer: str  # JSON pointer into the payload, from correlationId.location
    headers: dict[str, Any] | None  # the `headers` schema, if the message declares one
    schema_file: str  # the payload schema, a file under schemas/


def _document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((EVENTS_DIR / "asyncapi.yaml").read_text())
    return loaded


def _resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


@cache
def messages() -> tuple[Message, ...]:
    """Every message a channel carries, in the document's order."""
    document = _document()
    found = []
    for channel in document["channels"].values():
        for ref in channel["messages"].values():
            message = _resolve(document, ref["$ref"])
            location = message["correlationId"]["location"]
            prefix = "$message.payload#"
            if not location.startswith(prefix):
                raise ValueError(
                    f"{message['name']}: correlationId outside the payload: {location}"
                )
            found.append(
                Message(
                    key=ref["$ref"].rsplit("/", 1)[-1],
                    name=message["name"],
                    address=channel["address"],
                    content_type=message.get("contentType", document["defaultContentType"]),
                    correlation_pointer=location.removeprefix(prefix),
                    headers=message.get("headers"),
                    schema_file=Path(message["payload"]["schema"]["$ref"]).name,
                )
            )
    return tuple(found)


def message(name: str) -> Message:
    (found,) = [m for m in messages() if m.name == name]
    return found


@cache
def _schemas() -> dict[str, dict[str, Any]]:
    return {
        path.name: json.loads(path.read_text())
        for path in sorted((EVENTS_DIR / "schemas").glob("*.json"))
    }


@cache
def _registry() -> Registry[Any]:
    resources = [(schema["$id"], Resource.from_contents(schema)) for schema in _schemas().values()]
    return Registry().with_resources(resources)


@cache
def validator(schema_file: str) -> Draft202012Validator:
    """The payload validator of one schema file, its refs resolved through their `$id`s."""
    return Draft202012Validator(_schemas()[schema_file], registry=_registry())


def payload_errors(msg: Message, payload: Any) -> list[str]:
    """What is wrong with `payload` against the message's schema: "path: message" each."""
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
        for error in validator(msg.schema_file).iter_errors(payload)
    ]


def pointer(payload: Any, path: str) -> Any:
    """The value at a JSON pointer such as `/correlation_id`."""
    node = payload
    for part in filter(None, path.split("/")):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def inlined(schema_file: str) -> dict[str, Any]:
    """The payload schema with every `$ref` between our files replaced by its target, for
    hypothesis-jsonschema (which resolves no references across files)."""
    result: dict[str, Any] = _inline(_schemas()[schema_file], schema_file)
    return result


def _inline(node: Any, base: str) -> Any:
    if isinstance(node, list):
        return [_inline(item, base) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        file_part, _, path = ref.partition("#")
        target_file = file_part or base
        target = pointer(_schemas()[target_file], path)
        rest = {k: v for k, v in node.items() if k != "$ref"}
        return {**_inline(target, target_file), **_inline(rest, base)}
    # Annotations stay (a property may be named "title"); only what would point elsewhere goes.
    skipped = {"$id", "$schema", "$defs"}
    return {key: _inline(value, base) for key, value in node.items() if key not in skipped}
