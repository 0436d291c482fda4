"""Response models: JSON Schema (versioned with the prompt) → a Pydantic model at run time, or an
allow-listed code model, with its fingerprint and any drift from the stored schema.

Every invalid schema raises ``SchemaError`` naming the JSON-pointer path of the problem.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import keyword
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.fields import FieldInfo
from pydantic_core import SchemaError as CoreSchemaError
from pydantic_core import SchemaValidator

from prompt_playground.errors import SchemaError

__all__ = [
    "OUTPUT_TOKEN_SLACK",
    "SMALL_MODEL_MAX_ITEMS",
    "SMALL_MODEL_MAX_LENGTH",
    "FieldKind",
    "FieldSpec",
    "ResolvedModel",
    "field_specs",
    "load_code_model",
    "model_from_schema",
    "output_token_bound",
    "response_model_for",
    "schema_drift",
    "schema_fingerprint",
]

#: With ``small_model_bounds`` no string may be longer than this (a larger or missing
#: ``maxLength`` is lowered to it) ...
SMALL_MODEL_MAX_LENGTH = 160
#: ... and no array longer than this: a small model otherwise fills every string and list to
#: its bound ("1.1.1.1…"), and every character it may write is time on a slow machine.
SMALL_MODEL_MAX_ITEMS = 5

#: Added to a schema's longest answer for the model's end-of-output tokens.
OUTPUT_TOKEN_SLACK = 16
_NUMBER_CHARS = 24  # "-1.2345678901234567e+308"

FieldKind = Literal["enum", "boolean", "number", "integer", "string", "list", "object"]

_TYPES = ("string", "integer", "number", "boolean", "array", "object", "null")
_UNSUPPORTED = (
    "not",
    "if",
    "then",
    "else",
    "patternProperties",
    "dependentSchemas",
    "dependentRequired",
    "unevaluatedProperties",
    "unevaluatedItems",
    "propertyNames",
    "contains",
)
_MAX_DEPTH = 32
#: A response schema holding more JSON values than this (keys, strings, numbers, ...) is refused:
#: schemas come from a shared project, and building a model walks every node.
MAX_SCHEMA_NODES = 5_000
#: Raw JSON nesting (objects and lists) allowed in a response schema.
MAX_SCHEMA_NESTING = 64
_REF_PREFIXES = ("#/$defs/", "#/definitions/")
_MODULE_REF = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
_BASEMODEL_ATTRS = frozenset(dir(BaseModel))


def _at(path: str) -> str:
    return f"#{path}"


def _fail(path: str, text: str) -> SchemaError:
    return SchemaError(f"Response schema error at {_at(path)}: {text}")


# ----------------------------------------------------------------------------- fingerprint


def schema_fingerprint(schema: Mapping[str, Any]) -> str:
    """A short sha256 of the schema's canonical JSON (key order and whitespace do not matter)."""
    try:
        canonical = json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"The response schema is not plain JSON: {exc}") from exc
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


# ----------------------------------------------------------------------------- schema → model


def resolve_ref(root: Mapping[str, Any], ref: Any, path: str) -> tuple[Mapping[str, Any], str]:
    """The definition a local ``$ref`` names, and its path; a clear error for any other."""
    if not isinstance(ref, str) or not ref.startswith(_REF_PREFIXES):
        raise _fail(
            path,
            f"$ref {ref!r} is not supported: only local references ('#/$defs/Name') are.",
        )
    prefix = next(p for p in _REF_PREFIXES if ref.startswith(p))
    name = ref[len(prefix) :]
    container = root.get(prefix[2:-1])
    if not isinstance(container, Mapping) or name not in container:
        known = ", ".join(container) if isinstance(container, Mapping) else "none"
        raise _fail(path, f"$ref {ref!r} points to nothing (definitions: {known}).")
    target = container[name]
    if not isinstance(target, Mapping):
        raise _fail(f"{prefix[1:]}{name}", "a definition must be a JSON object.")
    return target, f"{prefix[1:-1]}/{name}"


class _Builder:
    def __init__(self, root: Mapping[str, Any], *, bounds: bool) -> None:
        self.root = root
        self.bounds = bounds
        self.models: dict[str, type[BaseModel]] = {}
        self.building: set[str] = set()
        self.names: set[str] = set()

    def resolve(self, ref: Any, path: str) -> tuple[Mapping[str, Any], str]:
        return resolve_ref(self.root, ref, path)

    def unique_name(self, wanted: str) -> str:
        base = re.sub(r"\W", "_", wanted).strip("_") or "Model"
        if base[0].isdigit():
            base = f"M{base}"
        name, n = base, 2
        while name in self.names:
            name, n = f"{base}{n}", n + 1
        self.names.add(name)
        return name

    def type_of(self, node: Any, path: str, depth: int = 0) -> Any:
        """The Python annotation for a sub-schema (constraints carried in ``Annotated``)."""
        if depth > _MAX_DEPTH:
            raise _fail(path, f"the schema nests deeper than {_MAX_DEPTH} levels.")
        if node is True or node == {}:
            return Any
        if not isinstance(node, Mapping):
            raise _fail(path, f"expected a schema object, got {type(node).__name__}.")
        for word in _UNSUPPORTED:
            if word in node:
                raise _fail(path, f"keyword '{word}' is not supported in response schemas.")
        if "$ref" in node:
            return self.ref_model(node["$ref"], path, depth)
        if "const" in node:
            return Literal[_literal_value(node["const"], f"{path}/const")]
        if "enum" in node:
            values = node["enum"]
            if not isinstance(values, list) or not values:
                raise _fail(f"{path}/enum", "enum must be a non-empty list.")
            literals = tuple(_literal_value(v, f"{path}/enum/{i}") for i, v in enumerate(values))
            return Literal[literals]
        for combinator in ("anyOf", "oneOf", "allOf"):
            if combinator in node:
                return self.combined(node, combinator, path, depth)
        kind = node.get("type")
        if isinstance(kind, list):
            if not kind or any(k not in _TYPES for k in kind):
                raise _fail(f"{path}/type", f"unknown type in {kind!r}; use {', '.join(_TYPES)}.")
            options = [self.type_of({**node, "type": k}, path, depth + 1) for k in kind]
            return _union(options)
        if kind is None:
            if "properties" in node:
                kind = "object"
            elif "items" in node:
                kind = "array"
            else:
                return Any
        if kind not in _TYPES:
            raise _fail(f"{path}/type", f"unknown type {kind!r}; use one of {', '.join(_TYPES)}.")
        if kind == "null":
            return type(None)
        if kind == "boolean":
            return bool
        if kind in {"integer", "number"}:
            return self.number(node, kind, path)
        if kind == "string":
            return self.string(node, path)
        if kind == "array":
            return self.array(node, path, depth)
        return self.object(node, path, depth)

    def combined(self, node: Mapping[str, Any], combinator: str, path: str, depth: int) -> Any:
        branches = node[combinator]
        if not isinstance(branches, list) or not branches:
            raise _fail(f"{path}/{combinator}", f"{combinator} must be a non-empty list.")
        if combinator == "allOf":
            if len(branches) != 1:
                raise _fail(f"{path}/allOf", "allOf with more than one schema is not supported.")
            return self.type_of(branches[0], f"{path}/allOf/0", depth + 1)
        options = [
            self.type_of(b, f"{path}/{combinator}/{i}", depth + 1) for i, b in enumerate(branches)
        ]
        return _union(options)

    def ref_model(self, ref: Any, path: str, depth: int) -> Any:
        target, target_path = self.resolve(ref, f"{path}/$ref")
        if isinstance(ref, str) and ref in self.models:
            return self.models[ref]
        if ref in self.building:
            raise _fail(path, f"recursive $ref {ref!r} is not supported in response schemas.")
        self.building.add(ref)
        try:
            built = self.type_of(target, target_path, depth + 1)
        finally:
            self.building.discard(ref)
        if isinstance(built, type) and issubclass(built, BaseModel):
            self.models[ref] = built
        return built

    def number(self, node: Mapping[str, Any], kind: str, path: str) -> Any:
        constraints: dict[str, Any] = {}
        for word, arg in (
            ("minimum", "ge"),
            ("maximum", "le"),
            ("exclusiveMinimum", "gt"),
            ("exclusiveMaximum", "lt"),
            ("multipleOf", "multiple_of"),
        ):
            if word in node:
                value = node[word]
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise _fail(f"{path}/{word}", f"{word} must be a number, got {value!r}.")
                constraints[arg] = value
        low, high = node.get("minimum"), node.get("maximum")
        if isinstance(low, int | float) and isinstance(high, int | float) and low > high:
            raise _fail(path, f"minimum {low} is greater than maximum {high}.")
        base: type = int if kind == "integer" else float
        return Annotated[base, Field(**constraints)] if constraints else base

    def string(self, node: Mapping[str, Any], path: str) -> Any:
        constraints: dict[str, Any] = {}
        for word, arg in (("minLength", "min_length"), ("maxLength", "max_length")):
            if word in node:
                constraints[arg] = _count(node[word], f"{path}/{word}", word)
        if self.bounds:
            constraints["max_length"] = _tighter(constraints, SMALL_MODEL_MAX_LENGTH)
        if constraints.get("min_length", 0) > constraints.get("max_length", 1 << 62):
            raise _fail(path, "minLength is greater than maxLength.")
        if "pattern" in node:
            pattern = node["pattern"]
            if not isinstance(pattern, str):
                raise _fail(f"{path}/pattern", "pattern must be a string.")
            _check_pattern(pattern, f"{path}/pattern")
            constraints["pattern"] = pattern
        return Annotated[str, Field(**constraints)] if constraints else str

    def array(self, node: Mapping[str, Any], path: str, depth: int) -> Any:
        items = node.get("items", {})
        if isinstance(items, list):
            raise _fail(f"{path}/items", "tuple-style 'items' lists are not supported.")
        item_type = self.type_of(items, f"{path}/items", depth + 1)
        constraints: dict[str, Any] = {}
        for word, arg in (("minItems", "min_length"), ("maxItems", "max_length")):
            if word in node:
                constraints[arg] = _count(node[word], f"{path}/{word}", word)
        if self.bounds:
            constraints["max_length"] = _tighter(constraints, SMALL_MODEL_MAX_ITEMS)
        if constraints.get("min_length", 0) > constraints.get("max_length", 1 << 62):
            raise _fail(path, "minItems is greater than maxItems.")
        list_type = list[item_type]  # type: ignore[valid-type]
        return Annotated[list_type, Field(**constraints)] if constraints else list_type

    def object(
        self, node: Mapping[str, Any], path: str, depth: int, name: str | None = None
    ) -> Any:
        properties = node.get("properties")
        additional = node.get("additionalProperties")
        if properties is None:
            if isinstance(additional, Mapping):
                value_type = self.type_of(additional, f"{path}/additionalProperties", depth + 1)
                return dict[str, value_type]  # type: ignore[valid-type]
            return dict[str, Any]
        if not isinstance(properties, Mapping):
            raise _fail(f"{path}/properties", "properties must be an object of field schemas.")
        required = node.get("required", [])
        if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
            raise _fail(f"{path}/required", "required must be a list of property names.")
        unknown = [r for r in required if r not in properties]
        if unknown:
            raise _fail(
                f"{path}/required",
                f"required names {', '.join(unknown)} but properties are "
                f"{', '.join(properties) or '(none)'}.",
            )
        fields: dict[str, Any] = {}
        used: set[str] = set()
        for prop, sub in properties.items():
            prop_path = f"{path}/properties/{_escape(prop)}"
            annotation = self.type_of(sub, prop_path, depth + 1)
            python_name = _python_name(prop, used)
            alias = prop if python_name != prop else None
            info = _field_info(sub, prop_path, prop in required, alias)
            if prop not in required and (
                not isinstance(sub, Mapping) or sub.get("default") is None
            ):
                annotation = annotation | None if annotation is not Any else Any
            fields[python_name] = (annotation, info)
        forbid = additional is False or self.bounds
        config = ConfigDict(
            extra="forbid" if forbid else "ignore",
            populate_by_name=True,
            serialize_by_alias=True,
            protected_namespaces=(),
            # Rust's linear-time engine: a backtracking one lets a pattern like ^(a+)+$ from a
            # shared project stall every session. Patterns it cannot compile are refused above.
            regex_engine="rust-regex",
            title=node.get("title") if isinstance(node.get("title"), str) else None,
        )
        if isinstance(node.get("description"), str):
            config["json_schema_extra"] = {"description": node["description"]}
        model_name = self.unique_name(name or str(node.get("title") or _title_from(path)))
        try:
            model: type[BaseModel] = create_model(model_name, __config__=config, **fields)
        except (TypeError, ValueError) as exc:
            raise _fail(path, f"cannot build a model ({exc}).") from exc
        if isinstance(node.get("description"), str):
            model.__doc__ = node["description"]
        return model


def _check_pattern(pattern: str, path: str) -> None:
    """Refuse a pattern Pydantic's Rust engine cannot compile (look-arounds, back-references)."""
    try:
        re.compile(pattern)  # compiling only: no matching, so no backtracking here
    except re.error as exc:
        raise _fail(path, f"invalid regular expression ({exc}).") from exc
    try:
        SchemaValidator({"type": "str", "pattern": pattern, "regex_engine": "rust-regex"})
    except CoreSchemaError as exc:
        reason = str(exc).rsplit("error:", 1)[-1].strip() if "error:" in str(exc) else str(exc)
        raise _fail(
            path,
            f"pattern {pattern[:80]!r} cannot be compiled by the linear-time regex engine "
            f"({reason}). Look-arounds and back-references are not supported; rewrite the "
            "pattern without them.",
        ) from exc


def check_schema_size(schema: Any, what: str = "The response schema") -> None:
    """Refuse a schema with more than ``MAX_SCHEMA_NODES`` values or nested deeper than
    ``MAX_SCHEMA_NESTING`` (walked without recursion, so any input ends in ``SchemaError``)."""
    stack: list[tuple[Any, int]] = [(schema, 1)]
    nodes = 0
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if nodes > MAX_SCHEMA_NODES:
            raise SchemaError(
                f"{what} is too large (over {MAX_SCHEMA_NODES:,} JSON values). Split it or "
                "simplify it."
            )
        if isinstance(node, Mapping | list | tuple):
            if depth > MAX_SCHEMA_NESTING:
                raise SchemaError(
                    f"{what} nests deeper than {MAX_SCHEMA_NESTING} levels of JSON objects "
                    "and lists."
                )
            children = node.values() if isinstance(node, Mapping) else node
            stack.extend((child, depth + 1) for child in children)


def _escape(prop: str) -> str:
    return prop.replace("~", "~0").replace("/", "~1")


def _title_from(path: str) -> str:
    last = path.rsplit("/", 1)[-1] if path else "Response"
    return "".join(part.capitalize() for part in re.split(r"[\W_]+", last) if part) or "Model"


def _python_name(prop: str, used: set[str]) -> str:
    name = prop
    bad = (
        not name.isidentifier()
        or keyword.iskeyword(name)
        or name.startswith("_")
        or name in _BASEMODEL_ATTRS
        or name.startswith("model_")
    )
    if bad:
        name = re.sub(r"\W", "_", prop).strip("_") or "field"
        if name[0].isdigit() or keyword.iskeyword(name) or name in _BASEMODEL_ATTRS:
            name = f"f_{name}"
        if name.startswith("model_"):
            name = f"f_{name}"
    base, n = name, 2
    while name in used:
        name, n = f"{base}_{n}", n + 1
    used.add(name)
    return name


def _field_info(sub: Any, path: str, required: bool, alias: str | None) -> FieldInfo:
    kwargs: dict[str, Any] = {"alias": alias} if alias else {}
    if isinstance(sub, Mapping):
        if isinstance(sub.get("description"), str):
            kwargs["description"] = sub["description"]
        if isinstance(sub.get("title"), str):
            kwargs["title"] = sub["title"]
    if required:
        return Field(**kwargs)  # type: ignore[no-any-return]
    default = sub.get("default") if isinstance(sub, Mapping) else None
    try:
        json.dumps(default)
    except (TypeError, ValueError) as exc:
        raise _fail(f"{path}/default", "the default must be plain JSON.") from exc
    return Field(default=default, **kwargs)  # type: ignore[no-any-return]


def _literal_value(value: Any, path: str) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise _fail(
        path, f"enum/const values must be strings, numbers, booleans or null, got {value!r}."
    )


def _count(value: Any, path: str, word: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _fail(path, f"{word} must be a non-negative integer, got {value!r}.")
    return value


def _tighter(constraints: Mapping[str, Any], cap: int) -> int:
    """The small-model cap on a length, never below the schema's own minimum."""
    bound = min(int(constraints.get("max_length", cap)), cap)
    return max(bound, int(constraints.get("min_length", 0)))


def _union(options: list[Any]) -> Any:
    unique: list[Any] = []
    for option in options:
        if option not in unique:
            unique.append(option)
    if Any in unique:
        return Any
    if len(unique) == 1:
        return unique[0]
    return Union[tuple(unique)]  # noqa: UP007 - built from a runtime list


def model_from_schema(
    schema: Mapping[str, Any], *, name: str | None = None, small_model_bounds: bool = False
) -> type[BaseModel]:
    """Build a Pydantic model from a JSON Schema object at run time.

    Supports nested objects, ``$defs``/``$ref``, ``enum``/``const`` (→ ``Literal``), arrays,
    ``anyOf``/``oneOf`` unions, optional fields (not in ``required`` → ``X | None = None``),
    descriptions, and the constraints minLength/maxLength/pattern/minimum/maximum/
    exclusiveMinimum/exclusiveMaximum/multipleOf/minItems/maxItems; ``additionalProperties: false``
    forbids extra keys. With ``small_model_bounds`` strings and arrays are held to
    ``SMALL_MODEL_MAX_LENGTH`` and ``SMALL_MODEL_MAX_ITEMS`` (tighter bounds kept, looser or
    missing ones lowered), and extra keys are forbidden everywhere.

    Raises:
        SchemaError: naming the JSON-pointer path (``#/properties/topics/items``) of the problem.
    """
    if not isinstance(schema, Mapping):
        raise _fail("", f"the response schema must be a JSON object, got {type(schema).__name__}.")
    check_schema_size(schema)
    builder = _Builder(schema, bounds=small_model_bounds)
    node: Mapping[str, Any] = schema
    path = ""
    if "$ref" in schema and "properties" not in schema:
        node, path = builder.resolve(schema["$ref"], "/$ref")
    if node.get("type", "object") != "object" or not isinstance(node.get("properties"), Mapping):
        raise _fail(
            path,
            'the top level must be an object with properties, e.g. {"type": "object", '
            '"properties": {"label": {"type": "string"}}, "required": ["label"]}.',
        )
    model = builder.object(node, path, 0, name=name or str(node.get("title") or "Response"))
    if not (isinstance(model, type) and issubclass(model, BaseModel)):  # pragma: no cover
        raise _fail(path, "the top level did not produce a model.")
    try:
        model.model_json_schema()
    except (TypeError, ValueError) as exc:  # PydanticUserError is a TypeError
        raise _fail(path, f"the model cannot produce its JSON schema ({exc}).") from exc
    return model


# ----------------------------------------------------------------------------- code models


def load_code_model(ref: str, allowed_modules: Sequence[str]) -> type[BaseModel]:
    """Import ``pkg.module:Class`` only when the module is allow-listed (or inside one).

    Nothing is imported for a reference outside the allow-list.

    Raises:
        SchemaError: a malformed reference, a module not allowed, an import failure, or a class
            that is not a Pydantic model.
    """
    text = ref.strip() if isinstance(ref, str) else ""
    if not _MODULE_REF.fullmatch(text):
        raise SchemaError(
            f"config.response_model {ref!r} is not a reference of the form 'package.module:Class'."
        )
    module_name, _, attr_path = text.partition(":")
    allowed = [m.strip() for m in allowed_modules if m and m.strip()]
    if not _allowed(module_name, allowed):
        shown = ", ".join(allowed) if allowed else "(none)"
        raise SchemaError(
            f"config.response_model {text!r}: module '{module_name}' is not in the allowed "
            f"response-model modules ({shown}). Add it to the allow-list in the settings, or use "
            "config.response_schema instead."
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SchemaError(
            f"config.response_model {text!r}: module '{module_name}' cannot be imported ({exc})."
        ) from exc
    target: Any = module
    for part in attr_path.split("."):
        try:
            target = getattr(target, part)
        except AttributeError as exc:
            raise SchemaError(
                f"config.response_model {text!r}: '{module_name}' has no attribute '{attr_path}'."
            ) from exc
    if not (isinstance(target, type) and issubclass(target, BaseModel)) or target is BaseModel:
        got = "BaseModel itself" if target is BaseModel else type(target).__name__
        raise SchemaError(
            f"config.response_model {text!r} is not a Pydantic model class (got {got}). Name a "
            "subclass of pydantic.BaseModel with the fields the output must have."
        )
    defined_in = getattr(target, "__module__", "")
    if not _allowed(defined_in, allowed):
        raise SchemaError(
            f"config.response_model {text!r}: the class is defined in '{defined_in}', which is "
            f"not an allowed response-model module ({', '.join(allowed)}); it is only imported "
            f"into '{module_name}'. Name it where it is defined, or add that module to the "
            "allow-list."
        )
    return target


def _allowed(module_name: str, allowed: Sequence[str]) -> bool:
    return any(module_name == m or module_name.startswith(m + ".") for m in allowed)


# ----------------------------------------------------------------------------- field specs


@dataclass(frozen=True)
class FieldSpec:
    """One field of a response schema, as the comparison and the UI field table see it."""

    name: str
    kind: FieldKind
    description: str | None = None
    required: bool = False
    enum_values: tuple[Any, ...] | None = None
    nullable: bool = False
    item_kind: FieldKind | None = None
    item_enum_values: tuple[Any, ...] | None = None
    constraints: dict[str, Any] = field(default_factory=dict)
    fields: tuple[FieldSpec, ...] = ()


_CONSTRAINT_WORDS = (
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
)


def _deref(root: Mapping[str, Any], node: Any, depth: int = 0) -> Mapping[str, Any]:
    """Follow ``$ref`` and single-branch ``allOf`` wrappers; keep the outer description."""
    if not isinstance(node, Mapping) or depth > _MAX_DEPTH:
        return {}
    if "$ref" in node:
        target, _ = resolve_ref(root, node["$ref"], "/$ref")
        merged = {
            **_deref(root, target, depth + 1),
            **{k: v for k, v in node.items() if k != "$ref"},
        }
        return merged
    all_of = node.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1:
        rest = {k: v for k, v in node.items() if k != "allOf"}
        return {**_deref(root, all_of[0], depth + 1), **rest}
    return node


def _split_nullable(
    root: Mapping[str, Any], node: Mapping[str, Any]
) -> tuple[Mapping[str, Any], bool]:
    for combinator in ("anyOf", "oneOf"):
        branches = node.get(combinator)
        if isinstance(branches, list):
            resolved = [_deref(root, b) for b in branches]
            non_null = [b for b in resolved if b.get("type") != "null"]
            nullable = len(non_null) < len(resolved)
            rest = {k: v for k, v in node.items() if k != combinator}
            if len(non_null) == 1:
                return {**non_null[0], **rest}, nullable
            return {**rest, "anyOf": non_null}, nullable
    kind = node.get("type")
    if isinstance(kind, list) and "null" in kind:
        others = [k for k in kind if k != "null"]
        return {**node, "type": others[0] if len(others) == 1 else others}, True
    return node, False


def _kind_of(node: Mapping[str, Any]) -> FieldKind:
    if "enum" in node or "const" in node:
        return "enum"
    kind = node.get("type")
    if isinstance(kind, list):
        if set(kind) == {"integer", "number"}:
            return "number"
        if len(kind) > 1:
            return "object"  # several types: compared as JSON
        kind = kind[0] if kind else None
    mapping: dict[Any, FieldKind] = {
        "string": "string",
        "integer": "integer",
        "number": "number",
        "boolean": "boolean",
        "array": "list",
        "object": "object",
    }
    if kind in mapping:
        return mapping[kind]
    if "properties" in node:
        return "object"
    if "items" in node:
        return "list"
    if "anyOf" in node:
        return "object"
    return "string"


def _spec(root: Mapping[str, Any], name: str, raw: Any, required: bool, depth: int) -> FieldSpec:
    node, nullable = _split_nullable(root, _deref(root, raw))
    kind = _kind_of(node)
    enum = node.get("enum", [node["const"]] if "const" in node else None)
    item_kind: FieldKind | None = None
    item_enum: tuple[Any, ...] | None = None
    children: tuple[FieldSpec, ...] = ()
    if kind == "list":
        items, _ = _split_nullable(root, _deref(root, node.get("items", {})))
        item_kind = _kind_of(items) if items else "string"
        if isinstance(items.get("enum"), list):
            item_enum = tuple(items["enum"])
        if item_kind == "object" and depth < _MAX_DEPTH:
            children = tuple(_object_specs(root, items, depth + 1))
    elif kind == "object" and depth < _MAX_DEPTH:
        children = tuple(_object_specs(root, node, depth + 1))
    description = raw.get("description") if isinstance(raw, Mapping) else None
    if not isinstance(description, str):
        description = node.get("description") if isinstance(node.get("description"), str) else None
    constraints = {w: node[w] for w in _CONSTRAINT_WORDS if w in node}
    if kind == "list":
        items_node, _ = _split_nullable(root, _deref(root, node.get("items", {})))
        constraints.update(
            {f"items.{w}": items_node[w] for w in _CONSTRAINT_WORDS if w in items_node}
        )
    return FieldSpec(
        name=name,
        kind=kind,
        description=description,
        required=required,
        enum_values=tuple(enum) if isinstance(enum, list) else None,
        nullable=nullable,
        item_kind=item_kind,
        item_enum_values=item_enum,
        constraints=constraints,
        fields=children,
    )


def _object_specs(root: Mapping[str, Any], node: Mapping[str, Any], depth: int) -> list[FieldSpec]:
    properties = node.get("properties")
    if not isinstance(properties, Mapping):
        return []
    required = set(node.get("required") or [])
    return [
        _spec(root, str(name), sub, name in required, depth) for name, sub in properties.items()
    ]


def field_specs(schema: Mapping[str, Any]) -> list[FieldSpec]:
    """The top-level fields of a response schema in schema order (nested ones in ``fields``)."""
    if not isinstance(schema, Mapping):
        raise SchemaError("The response schema must be a JSON object.")
    check_schema_size(schema)
    return _object_specs(schema, _deref(schema, schema), 0)


# ----------------------------------------------------------------------------- drift


def _describe_kind(spec: FieldSpec) -> str:
    if spec.kind == "list" and spec.item_kind:
        return f"list of {spec.item_kind}"
    return spec.kind


def _values(values: tuple[Any, ...]) -> str:
    return ", ".join(repr(v) for v in values)


def _drift(old: Sequence[FieldSpec], new: Sequence[FieldSpec], prefix: str) -> list[str]:
    out: list[str] = []
    stored = {s.name: s for s in old}
    code = {s.name: s for s in new}
    for name, spec in code.items():
        if name not in stored:
            out.append(
                f"field '{prefix}{name}' ({_describe_kind(spec)}) is in the code model but not in "
                "the stored schema"
            )
    for name in stored:
        if name not in code:
            out.append(f"field '{prefix}{name}' is in the stored schema but not in the code model")
    for name in (n for n in code if n in stored):
        a, b = stored[name], code[name]
        label = f"field '{prefix}{name}'"
        if _describe_kind(a) != _describe_kind(b):
            out.append(f"{label}: type changed from {_describe_kind(a)} to {_describe_kind(b)}")
        for what, old_values, new_values in (
            ("enum values", a.enum_values, b.enum_values),
            ("item enum values", a.item_enum_values, b.item_enum_values),
        ):
            if old_values is not None and new_values is not None and old_values != new_values:
                added = tuple(v for v in new_values if v not in old_values)
                removed = tuple(v for v in old_values if v not in new_values)
                parts = []
                if added:
                    parts.append(f"added {_values(added)}")
                if removed:
                    parts.append(f"removed {_values(removed)}")
                out.append(f"{label}: {what} changed ({'; '.join(parts) or 'reordered'})")
        if a.required != b.required:
            now = "required" if b.required else "optional"
            was = "optional" if b.required else "required"
            out.append(f"{label}: now {now} in the code model (was {was})")
        if a.nullable != b.nullable:
            out.append(f"{label}: {'now' if b.nullable else 'no longer'} accepts null")
        for word in sorted(set(a.constraints) | set(b.constraints)):
            if a.constraints.get(word) != b.constraints.get(word):
                out.append(
                    f"{label}: {word} changed from {a.constraints.get(word, 'none')} to "
                    f"{b.constraints.get(word, 'none')}"
                )
        if a.fields or b.fields:
            out.extend(_drift(a.fields, b.fields, f"{prefix}{name}."))
    return out


def schema_drift(code_model: type[BaseModel], stored_schema: Mapping[str, Any]) -> list[str]:
    """Human-readable differences between a code model and the schema stored with the prompt.

    Descriptions and titles are ignored; fields, types, enum values, required/nullable and
    constraints are compared (nested objects too). An empty list means no drift.
    """
    return _drift(field_specs(stored_schema), field_specs(code_model.model_json_schema()), "")


# ----------------------------------------------------------------------------- config


@dataclass(frozen=True)
class ResolvedModel:
    """The response model of one prompt version and where it came from."""

    model: type[BaseModel]
    schema: dict[str, Any]
    fingerprint: str
    source: Literal["schema", "code"]
    drift: list[str] = field(default_factory=list)
    bounded: bool = False


def _stored_schema(config: Mapping[str, Any]) -> dict[str, Any] | None:
    raw = config.get("response_schema")
    if raw is None:
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise SchemaError(
                f"config.response_schema is a string but not valid JSON ({exc.msg} at character "
                f"{exc.pos}). Store the schema as a JSON object."
            ) from exc
        except RecursionError as exc:
            raise SchemaError(
                f"config.response_schema nests deeper than {MAX_SCHEMA_NESTING} levels of JSON "
                "objects and lists."
            ) from exc
    if not isinstance(raw, Mapping):
        raise SchemaError(
            f"config.response_schema must be a JSON Schema object, got {type(raw).__name__}."
        )
    check_schema_size(raw, "config.response_schema")
    return dict(raw)


def response_model_for(
    config: Mapping[str, Any] | None,
    *,
    allowed_modules: Sequence[str],
    small_model_bounds: bool = False,
) -> ResolvedModel:
    """Resolve a prompt version's response model from its Langfuse ``config``.

    ``config.response_model`` ("pkg.module:Class", allow-listed) wins when present, and its drift
    from a ``config.response_schema`` stored alongside is reported; otherwise the model is built
    from ``config.response_schema`` (with ``small_model_bounds`` applied). The fingerprint is that
    of the schema the model was built from (the code model's own schema for code models).

    Raises:
        SchemaError: neither key is present, or either one is invalid.
    """
    if config is None:
        config = {}
    if not isinstance(config, Mapping):
        raise SchemaError(f"The prompt config must be a JSON object, got {type(config).__name__}.")
    stored = _stored_schema(config)
    ref = config.get("response_model")
    if ref is not None:
        model = load_code_model(ref, allowed_modules)
        schema = model.model_json_schema()
        drift = schema_drift(model, stored) if stored is not None else []
        return ResolvedModel(model, schema, schema_fingerprint(schema), "code", drift)
    if stored is None:
        raise SchemaError(
            "This prompt version has no response schema: add config.response_schema (a JSON "
            "Schema object with properties) to the prompt's config in Langfuse, or "
            "config.response_model ('package.module:Class' from an allowed module).",
        )
    try:
        model = model_from_schema(stored, small_model_bounds=small_model_bounds)
    except SchemaError as exc:
        raise SchemaError(f"config.response_schema: {exc.message}", details=exc.details) from exc
    return ResolvedModel(
        model, stored, schema_fingerprint(stored), "schema", [], bounded=small_model_bounds
    )


# ----------------------------------------------------------------------------- output bound


def output_token_bound(schema: Mapping[str, Any]) -> int | None:
    """The most tokens a compact JSON answer to ``schema`` can take; None when unbounded.

    Counts characters of the longest answer the schema admits (every string at its
    ``maxLength``, every array at its ``maxItems``, keys and punctuation included): a token of a
    byte-level BPE vocabulary covers at least one byte, so for ASCII text this is an upper bound
    on tokens. A model that writes non-Latin text at several tokens per character can hit it;
    that row then fails with a message instead of looping on. Unbounded strings or arrays (no
    ``maxLength`` / ``maxItems``) give None.
    """
    return _chars(schema, schema, depth=0)


def _chars(node: Any, root: Mapping[str, Any], depth: int) -> int | None:
    if not isinstance(node, Mapping) or depth > _MAX_DEPTH:
        return None
    if "$ref" in node:
        ref = node["$ref"]
        for prefix in _REF_PREFIXES:
            if isinstance(ref, str) and ref.startswith(prefix):
                target = root.get(prefix[2:-1], {}).get(ref[len(prefix) :])
                return _chars(target, root, depth + 1)
        return None
    if "const" in node:
        return len(json.dumps(node["const"]))
    if "enum" in node:
        return max((len(json.dumps(v, ensure_ascii=False)) for v in node["enum"]), default=None)
    options = node.get("anyOf") or node.get("oneOf")
    if isinstance(options, list):
        sizes = [_chars(o, root, depth + 1) for o in options]
        return None if not sizes or None in sizes else max(s for s in sizes if s is not None)
    kind = node.get("type", "object" if "properties" in node else None)
    if isinstance(kind, list):
        sizes = [_chars({**node, "type": k}, root, depth + 1) for k in kind]
        return None if not sizes or None in sizes else max(s for s in sizes if s is not None)
    if kind == "string":
        limit = node.get("maxLength")
        return int(limit) + 2 if isinstance(limit, int) else None
    if kind in ("integer", "number"):
        return _NUMBER_CHARS
    if kind in ("boolean", "null"):
        return 5
    if kind == "array":
        limit, item = node.get("maxItems"), _chars(node.get("items", {}), root, depth + 1)
        return 2 + int(limit) * (item + 1) if isinstance(limit, int) and item is not None else None
    if kind == "object":
        total = 2
        for name, sub in (node.get("properties") or {}).items():
            size = _chars(sub, root, depth + 1)
            if size is None:
                return None
            total += len(json.dumps(name)) + 2 + size
        return total
    return None
