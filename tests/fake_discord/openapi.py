"""Discord's own OpenAPI description as the fake's contract.

Every route the fake serves is an operation of ``discord-api-spec/openapi.json``
(Discord's public description of API v10, vendored beside this file; the
README says which commit and how to update it). Request bodies are validated
against the operation's request schema and answered as Discord answers an
invalid body (400, code 50035, an ``errors`` tree naming the field); the fake's
own answers are checked against the response schema for their status, so
discord.py is tested against the payloads Discord really sends.

The description's conventions (its README) are applied here:

* ``integer`` also accepts int-parseable strings (Discord parses them);
* ``anyOf``/``oneOf`` unions mean "one of these forms": a value is valid when it
  has one of them (the description's forms overlap, e.g. a nonce that is an
  int-parseable string is both an integer and a string, so "exactly one" would
  refuse what Discord accepts);
* ``format`` is checked only for ``uri`` and ``date-time``, the two formats a
  message body can get wrong; snowflakes carry their own ``pattern``.

Validators are built once per operation (and per response status) and cached.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from jsonschema import Draft202012Validator, FormatChecker, ValidationError
from jsonschema import _keywords as keywords
from jsonschema.protocols import Validator
from jsonschema.validators import extend
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from .errors import ApiError

SPEC_DIR = Path(__file__).with_name("discord-api-spec")
SPEC_PATH = SPEC_DIR / "openapi.json"
_DOCUMENT_URI = "urn:discord-api-spec:openapi.json"
_PLACEHOLDER = re.compile(r"\{[^}]+\}")
_HTTP_METHODS = frozenset({"get", "put", "post", "patch", "delete", "head", "options"})
_INT_STRING = re.compile(r"^-?[0-9]+$")


def _is_integer(checker: object, instance: object) -> bool:
    """Discord parses int-parseable strings wherever the description says integer."""
    if isinstance(instance, bool):
        return False
    if isinstance(instance, int):
        return True
    if isinstance(instance, float):
        return instance.is_integer()
    return isinstance(instance, str) and _INT_STRING.match(instance) is not None


def _is_uri(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    scheme, colon, rest = instance.partition(":")
    return bool(colon and rest and re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme))


def _is_date_time(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    try:
        datetime.fromisoformat(instance.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


_FORMATS = FormatChecker(formats=())
_FORMATS.checks("uri")(_is_uri)
_FORMATS.checks("date-time")(_is_date_time)


def _validator_class(document: Mapping[str, Any]) -> type[Validator]:
    """JSON Schema 2020-12 with the description's conventions, for one (patched) document.

    Unions are validated as ``anyOf``, trying first only the forms the value
    can take: not ``null`` for a value, not another constant, not a form whose
    ``type`` property excludes the value's ``type`` (a message component, an
    interaction callback). A valid value then costs one form instead of up to
    fifteen; only an invalid one pays for trying them all, to explain itself.
    """
    kinds: dict[int, frozenset[Any] | None] = {}

    def kind_of(branch: Mapping[str, Any]) -> frozenset[Any] | None:
        """The ``type`` values a form admits, if it says (cached: forms live as long as we)."""
        key = id(branch)
        if key not in kinds:
            target: Any = branch
            ref = branch.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/"):
                target = document
                for token in _tokens(ref[1:]):
                    target = target[token]
            kind = (target.get("properties") or {}).get("type") or {}
            values = [kind["const"]] if "const" in kind else kind.get("enum")
            kinds[key] = None if values is None else frozenset(values)
        return kinds[key]

    def could_be(branch: Mapping[str, Any], instance: Any) -> bool:
        if "const" in branch:
            return bool(branch["const"] == instance)
        if branch.get("type") == "null":
            return instance is None
        if isinstance(instance, dict):
            admitted = kind_of(branch)
            return admitted is None or instance.get("type") in admitted
        return True

    def union(
        validator: Validator, branches: list[Any], instance: Any, schema: Any
    ) -> Iterator[ValidationError]:
        for branch in branches:
            if could_be(branch, instance) and validator.evolve(schema=branch).is_valid(instance):
                return
        yield from keywords.anyOf(validator, branches, instance, schema)

    return extend(
        Draft202012Validator,
        validators={"oneOf": union, "anyOf": union},
        type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
    )


@dataclass(frozen=True)
class Override:
    """A place where Discord's documentation wins over the description.

    ``side`` says which half of the contract it changes: what the fake accepts
    from the bot (``request``) or what it may answer (``response``).
    """

    pointer: str
    schema: Mapping[str, Any]
    side: str
    reason: str


#: Every disagreement with the documentation, listed in the README too. A test
#: checks that each pointer still exists, so a description update shows stale ones.
OVERRIDES: tuple[Override, ...] = (
    Override(
        "/components/schemas/InnerErrors/properties/_errors/items",
        {
            "type": "object",
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            "required": ["code", "message"],
        },
        "response",
        "Field errors of a 400 carry string codes (BASE_TYPE_MAX_LENGTH); the description "
        "reuses the top-level Error whose code is an integer.",
    ),
    Override(
        "/components/schemas/SnowflakeType",
        {
            "oneOf": [
                {"type": "string", "pattern": "^(0|[1-9][0-9]*)$"},
                {"type": "integer", "minimum": 0, "maximum": 2**64 - 1},
            ]
        },
        "request",
        "The documentation says snowflakes are returned as strings; in a request Discord "
        "also takes them as JSON integers, which discord.py sends (allowed_mentions "
        "roles and users, message_reference, an upload's attachment id 0 as in the "
        "documentation's example). Answers keep the string form.",
    ),
    Override(
        "/components/schemas/ComponentEmojiResponse/properties/id",
        {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/SnowflakeType"}]},
        "response",
        "A Unicode emoji on a button has no id: the documentation's emoji object has "
        '"id: ?snowflake" (null), the description a snowflake only.',
    ),
    Override(
        "/components/schemas/InteractionCallbackResponse/properties/resource",
        {
            "type": "object",
            "properties": {
                "type": {"$ref": "#/components/schemas/InteractionCallbackTypes"},
                "message": {"$ref": "#/components/schemas/MessageResponse"},
            },
            "required": ["type"],
        },
        "response",
        "The documentation gives every callback a resource of type and optional message "
        "(a deferral or an autocomplete answer too); the description has only the "
        "message, update and activity forms.",
    ),
)


def _patched(document: Mapping[str, Any], side: str) -> dict[str, Any]:
    """``document`` with the overrides of one side applied.

    Only the objects on the way to an override are copied; the rest is shared
    with the original (the description is large, and read-only here).
    """
    patched: dict[str, Any] = dict(document)
    for override in OVERRIDES:
        if override.side != side:
            continue
        *parents, last = _tokens(override.pointer)
        node = patched
        for token in parents:
            node[token] = dict(node[token])
            node = node[token]
        if last not in node:
            raise KeyError(f"override {override.pointer} no longer matches the description")
        node[last] = override.schema
    return patched


def _tokens(pointer: str) -> list[str]:
    return [
        unquote(token).replace("~1", "/").replace("~0", "~")
        for token in pointer.lstrip("/").split("/")
    ]


@dataclass(frozen=True)
class Operation:
    """One operation of the description: ``POST /channels/{channel_id}/messages``."""

    operation_id: str
    method: str
    path: str
    pointer: str
    definition: Mapping[str, Any] = field(repr=False, hash=False, compare=False)

    def request_pointer(self) -> str | None:
        """Where the JSON request body's schema is, if the operation takes one."""
        content = (self.definition.get("requestBody") or {}).get("content") or {}
        if "application/json" not in content:
            return None
        return f"{self.pointer}/requestBody/content/application~1json/schema"

    def response_key(self, status: int) -> str | None:
        """The response described for ``status``: exact, then ``4XX``, then ``default``."""
        responses = self.definition.get("responses") or {}
        for key in (str(status), f"{str(status)[0]}XX", "default"):
            if key in responses:
                return key
        return None


def template_key(method: str, template: str) -> tuple[str, str]:
    """Compare routes by shape: ``{emoji}`` and ``{emoji_name}`` are the same segment."""
    return method.upper(), _PLACEHOLDER.sub("{}", template.rstrip("/"))


def _escape(token: str) -> str:
    """A JSON pointer token (RFC 6901), percent-encoded for use in a URI fragment."""
    return quote(token.replace("~", "~0").replace("/", "~1"), safe="~")


class _Side:
    """One half of the contract: a patched document and its validators, built once each."""

    def __init__(self, document: Mapping[str, Any], side: str) -> None:
        self.document = _patched(document, side)
        self.registry: Registry[Any] = Registry().with_resource(
            _DOCUMENT_URI,
            Resource.from_contents(self.document, default_specification=DRAFT202012),
        )
        self._validator_class = _validator_class(self.document)
        self._validators: dict[str, Validator] = {}

    def validator(self, pointer: str) -> Validator:
        validator = self._validators.get(pointer)
        if validator is None:
            schema = {"$ref": f"{_DOCUMENT_URI}#{pointer}"}
            validator = self._validator_class(
                schema, registry=self.registry, format_checker=_FORMATS
            )
            self._validators[pointer] = validator
        return validator

    def at(self, pointer: str) -> Any:
        node: Any = self.document
        for token in _tokens(pointer):
            node = node[token]
        return node


class ApiDescription:
    """The parsed description: its operations, and validators for both halves."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        self.operations: dict[tuple[str, str], Operation] = {}
        for path, item in document["paths"].items():
            for method, definition in item.items():
                if method not in _HTTP_METHODS:
                    continue
                operation = Operation(
                    operation_id=definition["operationId"],
                    method=method.upper(),
                    path=path,
                    pointer=f"/paths/{_escape(path)}/{method}",
                    definition=definition,
                )
                self.operations[template_key(method, path)] = operation
        self._requests = _Side(document, "request")
        self._responses = _Side(document, "response")

    @classmethod
    @cache
    def load(cls, path: Path = SPEC_PATH) -> ApiDescription:
        """Read the vendored description once per process."""
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def operation(self, method: str, template: str) -> Operation | None:
        """The operation serving ``method template``, or None if the description lacks it."""
        return self.operations.get(template_key(method, template))

    def request_errors(self, operation: Operation, body: Any) -> list[ValidationError]:
        """What is wrong with ``body`` for ``operation`` (empty when it is valid)."""
        pointer = operation.request_pointer()
        if pointer is None:
            return []
        return list(self._requests.validator(pointer).iter_errors(body))

    def response_problems(self, operation: Operation, status: int, body: Any) -> list[str]:
        """How the fake's answer differs from what Discord sends for ``status``."""
        name = f"{operation.operation_id} {status}"
        key = operation.response_key(status)
        if key is None:
            return [f"{name}: not an answer the description lists"]
        pointer = f"{operation.pointer}/responses/{key}"
        described = self._responses.at(pointer)
        ref = described.get("$ref")
        if isinstance(ref, str):  # a shared answer: #/components/responses/...
            pointer = ref.removeprefix("#")
            described = self._responses.at(pointer)
        if "application/json" not in (described.get("content") or {}):
            return [] if body is None else [f"{name}: Discord answers without a body"]
        if body is None:
            return [f"{name}: Discord answers with a body, the fake sent none"]
        validator = self._responses.validator(f"{pointer}/content/application~1json/schema")
        problems = []
        for error in validator.iter_errors(body):
            path, _, message = explain(error)
            where = ".".join(str(part) for part in path) or "(body)"
            problems.append(f"{name} {where}: {message[:300]}")
        return problems


# ---------------------------------------------------------------- Discord's 400
def form_errors(errors: Iterable[ValidationError]) -> ApiError:
    """The 400 / 50035 Discord answers for these schema violations."""
    tree: dict[str, Any] = {}
    for error in errors:
        path, code, message = explain(error)
        node = tree
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})
    return ApiError(400, 50035, "Invalid Form Body", errors=tree)


def explain(error: ValidationError) -> tuple[list[Any], str, str]:
    """Path, Discord error code and message for one violation.

    Inside a union the explanation comes from the form the value was meant to
    take: forms refused for the value's type or for a discriminator (a
    ``type`` of the wrong value) are not it. When every form was refused for
    the same discriminator, the answer is that field's choices (an unknown
    interaction callback type).
    """
    if error.validator in ("anyOf", "oneOf") and error.context:
        depth = len(error.absolute_path)
        branches: dict[Any, list[ValidationError]] = defaultdict(list)
        for sub in error.context:
            branches[sub.relative_schema_path[0]].append(sub)

        def is_choice(sub: ValidationError) -> bool:
            """A refusal of the value itself or of its discriminator field."""
            return sub.validator in ("const", "enum") and len(sub.absolute_path) - depth in (0, 1)

        def other_form(sub: ValidationError) -> bool:
            return is_choice(sub) or (sub.validator == "type" and len(sub.absolute_path) == depth)

        fitting = [subs for subs in branches.values() if not any(map(other_form, subs))]
        if fitting:
            return explain(min(fitting, key=len)[0])
        types = [
            sub.validator_value
            for subs in branches.values()
            for sub in subs
            if sub.validator == "type" and len(sub.absolute_path) == depth
        ]
        if len(types) == len(branches):  # a value of none of the forms' types
            wanted = [
                kind for kinds in types for kind in ([kinds] if isinstance(kinds, str) else kinds)
            ]
            return list(error.absolute_path), *_type_code(wanted, error.instance)
        choices = [sub for subs in branches.values() for sub in subs if is_choice(sub)]
        if choices and len({tuple(sub.absolute_path) for sub in choices}) == 1:
            allowed: list[Any] = []
            for sub in choices:
                values = [sub.validator_value] if sub.validator == "const" else sub.validator_value
                allowed.extend(value for value in values if value not in allowed)
            ordered = sorted(allowed, key=lambda value: (str(type(value)), value))
            shown = ", ".join(str(value) for value in ordered)
            return (
                list(choices[0].absolute_path),
                "BASE_TYPE_CHOICES",
                f"Value must be one of {{{shown}}}.",
            )
    path = list(error.absolute_path)
    if error.validator == "required":  # Discord names the missing field itself
        path.append(next(name for name in error.validator_value if name not in error.instance))
    return path, *_code(error)


def _code(error: ValidationError) -> tuple[str, str]:
    kind, limit, value = error.validator, error.validator_value, error.instance
    if kind in ("maxLength", "maxItems", "maxProperties"):
        return "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length."
    if kind in ("minLength", "minItems", "minProperties"):
        return "BASE_TYPE_MIN_LENGTH", f"Must be {limit} or more in length."
    if kind == "required":
        return "BASE_TYPE_REQUIRED", "This field is required"
    if kind in ("enum", "const"):
        values = [limit] if kind == "const" else limit
        return "BASE_TYPE_CHOICES", f"Value must be one of {{{', '.join(map(str, values))}}}."
    if kind == "maximum":
        return "NUMBER_TYPE_MAX", f"int value should be less than or equal to {limit}."
    if kind == "minimum":
        return "NUMBER_TYPE_MIN", f"int value should be greater than or equal to {limit}."
    if kind == "format" and limit == "uri":
        return "URL_TYPE_INVALID_URL", "Not a well formed URL."
    if kind == "format":
        return "DATE_TIME_TYPE_PARSE", f"Could not parse {value!r}. Should be ISO8601."
    if kind == "pattern":
        return "STRING_TYPE_REGEX", "String value did not match validation regex."
    if kind == "uniqueItems":
        return "BASE_TYPE_UNIQUE", "Values must be unique."
    if kind == "additionalProperties":
        return "BASE_TYPE_UNKNOWN_FIELDS", error.message
    if kind == "type":
        return _type_code(limit, value)
    return "BASE_TYPE_INVALID", error.message


def _type_code(expected: Any, value: Any) -> tuple[str, str]:
    wanted = [expected] if isinstance(expected, str) else list(expected)
    wanted = [w for w in wanted if w != "null"] or ["null"]
    first = wanted[0]
    if first in ("integer", "number"):
        return "NUMBER_TYPE_COERCE", f'Value "{value}" is not int.'
    if first == "object":
        return "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType"
    if first == "array":
        return "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType"
    if first == "boolean":
        return "BOOLEAN_TYPE_CONVERT", f'Value "{value}" is not bool.'
    return "STRING_TYPE_CONVERT", f'Value "{value}" is not a string.'
