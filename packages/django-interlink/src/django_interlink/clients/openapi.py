"""openapi-core set up for contracts that never change while the process runs.

Each contract's validators are compiled once and reused by every call: openapi-core rebuilds
schema validators and walks every path of the document on each call; `load_openapi()` gives it a
validator cache per contract and a path finder that remembers each (method, template), so that
work is done once (bench/bench_contract_validation.py measures what it saves). Calls are
matched on their path relative to the service's base URL, whatever the host.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from jsonschema_path import SchemaPath
from openapi_core import Config, OpenAPI
from openapi_core.casting.schemas import oas31_types_caster
from openapi_core.casting.schemas.factories import SchemaCastersFactory
from openapi_core.templating.datatypes import TemplateResult
from openapi_core.templating.paths.datatypes import PathOperationServer
from openapi_core.templating.paths.finders import APICallPathFinder
from openapi_core.templating.paths.parsers import PathParser
from openapi_core.validation.schemas import oas31_schema_validators_factory
from openapi_core.validation.schemas.factories import DialectSchemaValidatorsFactory
from openapi_core.validation.schemas.validators import SchemaValidator

# The host part of the URLs handed to openapi-core (see AnyServer).
HOST = "http://service.invalid"


def _json_loads(value: bytes | str) -> Any:
    return json.loads(value)


# openapi-core 0.23 has no deserializer for problem+json, the media type of every error body.
MEDIA_TYPE_DESERIALIZERS: dict[str, Callable[[bytes], Any]] = {
    "application/problem+json": _json_loads
}


class _CachedSchemaValidators(DialectSchemaValidatorsFactory):
    """Builds each schema's validator once per contract.

    openapi-core resolves the schema, deep-copies a format checker and builds a jsonschema
    validator for every schema on every call (about half of its per-call cost); a contract does
    not change while the process runs, so the built validator is kept, keyed by its location.
    """

    def __init__(self) -> None:
        base = oas31_schema_validators_factory
        super().__init__(
            base.schema_validator_cls, base.default_jsonschema_dialect_id, base.format_checker
        )
        self._built: dict[tuple[str, bool, bool], SchemaValidator] = {}
        self._lock = threading.Lock()

    def create(
        self,
        spec: SchemaPath,
        schema: SchemaPath,
        format_validators: Any = None,
        extra_format_validators: Any = None,
        forbid_unspecified_additional_properties: bool = False,
        enforce_properties_required: bool = False,
    ) -> SchemaValidator:
        if format_validators is not None or extra_format_validators is not None:
            return super().create(
                spec,
                schema,
                format_validators,
                extra_format_validators,
                forbid_unspecified_additional_properties,
                enforce_properties_required,
            )
        key = (
            schema.as_uri(),
            forbid_unspecified_additional_properties,
            enforce_properties_required,
        )
        built = self._built.get(key)
        if built is None:
            built = super().create(
                spec,
                schema,
                forbid_unspecified_additional_properties=forbid_unspecified_additional_properties,
                enforce_properties_required=enforce_properties_required,
            )
            with self._lock:
                self._built[key] = built
        return built


class AnyServer:
    """Matches an operation whatever the host: calls are checked on the path relative to the
    service's base URL, since the contract's `servers` name deployment hosts, not the stub or
    instance the call actually went to."""

    def __call__(
        self,
        name: str,
        operations_iter: Iterable[Any],
        spec: SchemaPath,
        base_url: str | None = None,
    ) -> Iterator[PathOperationServer]:
        for path, operation, path_result in operations_iter:
            yield PathOperationServer(path, operation, None, path_result, TemplateResult("", {}))


class _CachedPathFinder(APICallPathFinder):
    """Finds each (method, path template) once; later calls only match a precompiled regex.

    openapi-core walks every path of the document per lookup, twice per call (request and
    response); the match for a template never changes, only the path variables do.
    """

    servers_iterator = AnyServer()

    def __init__(self, spec: SchemaPath, base_url: str | None = None) -> None:
        super().__init__(spec, base_url=base_url)
        templates = [str(name) for name in (spec / "paths").keys()]  # noqa: SIM118
        exact = [t for t in templates if "{" not in t]
        # Like openapi-core: a literal path wins, then the template with fewer variables.
        templated = sorted((t for t in templates if "{" in t), key=lambda t: t.count("{"))
        self._parsers = [(t, PathParser(t, post_expression="$")) for t in templated]
        self._exact = set(exact)
        self._found: dict[tuple[str, str], PathOperationServer] = {}

    def find(self, method: str, name: str) -> PathOperationServer:
        path = name[len(HOST) :] if name.startswith(HOST) else name
        template, variables = None, {}
        if path in self._exact:
            template = path
        else:
            for candidate, parser in self._parsers:
                match = parser.parse(path)
                if match is not None:
                    template, variables = candidate, match.named
                    break
        if template is None:
            return super().find(method, name)  # raises PathNotFound with openapi-core's message
        key = (method, template)
        found = self._found.get(key)
        if found is None:
            found = super().find(method, HOST + template)
            self._found[key] = found
        return found._replace(path_result=TemplateResult(template, variables))


_CONFIG = Config(
    extra_media_type_deserializers=MEDIA_TYPE_DESERIALIZERS,
    path_finder_cls=_CachedPathFinder,
)


def load_openapi(path: Path) -> OpenAPI:
    """The OpenAPI document at `path`, ready to validate, with its own validator caches."""
    validators = _CachedSchemaValidators()
    config = dataclasses.replace(
        _CONFIG,
        schema_validators_factory=validators,
        schema_casters_factory=SchemaCastersFactory(validators, oas31_types_caster),
    )
    openapi = OpenAPI.from_file_path(str(path), config=config)
    # Touch the validators once so their construction is not charged to the first call.
    _ = openapi.request_validator, openapi.response_validator
    return openapi
