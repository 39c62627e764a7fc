"""Event contracts: contracts/events/asyncapi.yaml and the JSON Schema of each message.

The AsyncAPI document lists the messages; each message's payload schema pins `event_type` and
`version` and is compiled once per process (`get_contract()` caches the compiled validators).
`validate_event()` is called by every bus on publish and by the consumer on receipt.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from ..conf import ms_settings
from ..exceptions import EventContractViolation
from .envelope import Envelope

# An event of a batch that passed the contract: (its position in the batch, it, its body).
Encoded = tuple[int, Envelope, bytes]

jsonschema_rs: Any
try:  # optional accelerator, same Draft 2020-12 semantics; the pure-Python path stays the reference
    import jsonschema_rs
except ImportError:  # pragma: no cover - depends on the environment
    jsonschema_rs = None


@dataclass(frozen=True)
class EventType:
    name: str
    version: int
    schema_path: Path
    summary: str


class EventContract:
    """The compiled contracts of one contracts/events directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.document = yaml.safe_load((directory / "asyncapi.yaml").read_text())
        self._schemas: dict[str, dict[str, Any]] = {
            path.name: json.loads(path.read_text())
            for path in sorted((directory / "schemas").glob("*.json"))
        }
        self.types: dict[tuple[str, int], EventType] = {}
        self._validators: dict[tuple[str, int], Draft202012Validator] = {}
        self._fast: dict[tuple[str, int], Any] = {}
        messages = self.document.get("components", {}).get("messages", {})
        for message in messages.values():
            ref = message["payload"]["schema"]["$ref"]
            path = (directory / ref).resolve()
            schema = self._schemas[path.name]
            Draft202012Validator.check_schema(schema)
            name = schema["properties"]["event_type"]["const"]
            version = schema["properties"]["version"]["const"]
            key = (name, version)
            self.types[key] = EventType(name, version, path, message.get("summary", ""))
            # Refs are inlined once: resolving them through a registry on every validation
            # would cost more than the validation itself.
            inlined = self._inline(schema, path.name)
            self._validators[key] = Draft202012Validator(inlined)
            if jsonschema_rs is not None:
                self._fast[key] = jsonschema_rs.validator_for(inlined)

    def _inline(self, node: Any, base: str) -> Any:
        """Replace `{"$ref": "file.json#/pointer"}` (between our schema files) by its target."""
        if isinstance(node, list):
            return [self._inline(item, base) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str):
            file_part, _, pointer = ref.partition("#")
            file_name = file_part or base
            target: Any = self._schemas[file_name]
            for part in filter(None, pointer.split("/")):
                target = target[part]
            rest = {k: v for k, v in node.items() if k != "$ref"}
            inlined = self._inline(target, file_name)
            return {**inlined, **self._inline(rest, base)} if rest else inlined
        return {
            key: self._inline(value, base)
            for key, value in node.items()
            if key not in {"$id", "$schema", "$defs"}
        }

    def schema(self, name: str, version: int) -> dict[str, Any] | None:
        """The payload schema of one event type, its refs inlined (None if not described)."""
        validator = self._validators.get((name, version))
        if validator is None or not isinstance(validator.schema, dict):
            return None
        return dict(validator.schema)

    @property
    def event_types(self) -> list[str]:
        """Every event type the contract describes, sorted."""
        return sorted({name for name, _ in self.types})

    def validate(self, payload: dict[str, Any]) -> None:
        """Raise `EventContractViolation` unless `payload` is a described event, valid."""
        key: Any = (payload.get("event_type"), payload.get("version"))
        validator = self._validators.get(key)
        if validator is None:
            raise EventContractViolation(f"no contract for event {key[0]!r} version {key[1]!r}")
        fast = self._fast.get(key)
        if fast is not None and fast.is_valid(payload):
            return
        # The reference validator decides and words the error (paths as in the contract).
        error = next(iter(validator.iter_errors(payload)), None)
        if error is not None:
            where = "/".join(str(part) for part in error.absolute_path) or "(root)"
            raise EventContractViolation(f"{key[0]} v{key[1]}: {where}: {error.message[:300]}")


_lock = threading.Lock()
_cache: dict[str, EventContract] = {}


def get_contract() -> EventContract:
    """The contract of `CONTRACTS_DIR/events`, loaded and compiled once per process."""
    # Keyed by the configured string: resolving the path costs more than validating an event.
    key = str(ms_settings.contracts_dir)
    contract = _cache.get(key)
    if contract is None:
        with _lock:
            contract = _cache.get(key)
            if contract is None:
                directory = (ms_settings.contracts_dir / "events").resolve()
                contract = _cache[key] = EventContract(directory)
    return contract


def max_event_bytes() -> int:
    """The largest event body: larger is refused on publish and dead-lettered on receipt.
    Events announce facts, they do not carry documents (a 1 MB payload is a bug or an attack)."""
    return int(ms_settings.EVENT_BUS["MAX_EVENT_BYTES"])


def validate_event(envelope: Envelope) -> None:
    """Check an envelope against its contract; `EventContractViolation` if it does not match."""
    get_contract().validate(envelope.to_dict())


def validate_body(body: bytes) -> Envelope:
    """Decode and validate a message body as received from a broker."""
    limit = max_event_bytes()
    if len(body) > limit:
        raise EventContractViolation(f"event body is {len(body)} bytes, the limit is {limit}")
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EventContractViolation(f"event body is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise EventContractViolation("event is not a JSON object")
    # The decoded object itself is validated: fields outside the envelope must not slip by.
    get_contract().validate(payload)
    return Envelope.from_dict(payload)


def encode_event(
    envelope: Envelope, *, contract: EventContract | None = None, limit: int | None = None
) -> bytes:
    """Validate and encode an envelope for publishing; refuses what consumers would refuse.
    A batch passes the contract and the limit, looked up once for all its events."""
    payload = envelope.to_dict()
    (contract or get_contract()).validate(payload)
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    limit = max_event_bytes() if limit is None else limit
    if len(body) > limit:
        raise EventContractViolation(f"event body is {len(body)} bytes, the limit is {limit}")
    return body


def encode_batch(envelopes: Sequence[Envelope]) -> tuple[list[str | None], list[Encoded]]:
    """`encode_event` for a batch, the contract and the limit looked up once: the outcomes
    (the reason where the contract refused an event, None elsewhere) and, in order, the
    (position, envelope, body) of the events to send."""
    outcomes: list[str | None] = [None] * len(envelopes)
    encoded: list[Encoded] = []
    contract, limit = get_contract(), max_event_bytes()
    for index, envelope in enumerate(envelopes):
        try:
            encoded.append(
                (index, envelope, encode_event(envelope, contract=contract, limit=limit))
            )
        except EventContractViolation as exc:
            outcomes[index] = str(exc)
    return outcomes, encoded
