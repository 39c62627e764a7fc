"""Every rule of the compatibility gate, with what it detects (the report and the README use this).

A consumer written against BASE sends requests and reads responses and events. So a request
may only get more permissive (a value it sent must stay valid), a response or an event only
stricter (a value it handles must stay the only kind it gets), and nothing it relies on may go
or change its meaning. Additions pass: new operations, statuses, optional request fields and
parameters, response and event fields, event types.
"""

from __future__ import annotations

RULES: dict[str, str] = {
    # what disappears
    "operation-removed": "an operation (method + path, parameter names ignored) is gone",
    "status-removed": "a response status of an operation is gone",
    "media-type-removed": "a request or response media type is gone",
    "header-removed": "a response header is gone",
    "field-removed": (
        "a response or event field is gone, or a request field is gone from a closed schema"
        " (a consumer still sending it is refused)"
    ),
    "event-removed": "an event type (schema file, AsyncAPI channel or message) is gone",
    "ref-unresolvable": "a $ref that resolved at BASE no longer does",
    # what a consumer must now send
    "required-field-added": "a request field is new and required, or was optional and is required",
    "parameter-required-added": "a parameter is new and required, or was optional and is required",
    "body-required": "a request body that was optional is required",
    "extra-fields-refused": "a request schema that accepted other fields is closed",
    # what a consumer may now get
    "field-made-optional": "a response or event field (or a header) that was required may go",
    # narrowed inputs, widened outputs
    "type-narrowed": "a request value's type accepts less (a type, null or a oneOf variant went)",
    "type-widened": "a response or event value's type allows more (a type, null or a variant came)",
    "enum-narrowed": "a request value's enum lost a value, or a free value got an enum",
    "enum-widened": "a response or event value's enum gained a value, or lost its enum",
    "range-narrowed": (
        "a request bound (minimum, maximum, exclusive bounds, min/max length, items, properties)"
        " is tighter or new"
    ),
    "range-widened": "a response or event bound is looser or gone",
    # changed meaning
    "format-changed": (
        "a format changed (date-time to date, uuid to uri, ...); also a format added to a request"
        " value or removed from a response or event value"
    ),
    "pattern-changed": (
        "a pattern changed, was added to a request value or removed from a response or event value"
        " (regular expressions are not compared for inclusion)"
    ),
    "const-changed": "a const changed, appeared or went (e.g. an event's event_type or version)",
    "unit-changed": (
        "a description that named a unit (UNIT_MARKERS: minor units, seconds, milliseconds, UTC,"
        " percent, ...) names another"
    ),
    "default-changed": "a request default changed: consumers that omit the value get another",
}
