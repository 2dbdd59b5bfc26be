"""The Train form, read from the API's own OpenAPI document: each job-spec field with its type, range, default
and description, so the UI never restates a hyperparameter the server already documents.

    doc = client.openapi()
    forms = method_forms(doc)                 # {"sft": {"description": ..., "fields": [FieldForm, ...]}, ...}
    spec = build_spec("sft", forms["sft"]["fields"], values)   # values: what the form's widgets hold

Everything here is plain data (dicts, JSON-serialisable) so it can live in a per-session gr.State.
"""

from __future__ import annotations

import json
import re
from typing import Any

_REF = "#/components/schemas/"

# Which fields sit in the open part of each section; the rest go under "More settings". A layout choice only:
# the field list itself comes from the schema.
MAIN_FIELDS = {
    "adapter": ("type", "r", "alpha", "dropout", "target_modules"),
    "training": (
        "learning_rate",
        "num_epochs",
        "max_steps",
        "batch_size",
        "gradient_accumulation_steps",
        "max_length",
    ),
}
SECTIONS = ("method", "adapter", "training")


def _resolve(doc: dict, node: dict) -> dict:
    while "$ref" in node:
        node = doc["components"]["schemas"][node["$ref"].removeprefix(_REF)]
    return node


def _label(name: str) -> str:
    words = name.replace("_", " ")
    words = re.sub(r"\blr\b", "LR", words)
    words = re.sub(r"\bkl\b", "KL", words)
    return words[:1].upper() + words[1:]


def _variants(prop: dict) -> list[dict]:
    return prop.get("anyOf") or prop.get("oneOf") or [prop]


def field_form(doc: dict, section: str, name: str, prop: dict, required: bool = False) -> dict:
    """One field as the UI draws it: kind (int, float, bool, choice, list, text, json), default, range,
    help."""
    variants = [_resolve(doc, v) for v in _variants(prop)]
    optional = any(v.get("type") == "null" for v in variants)
    typed = [v for v in variants if v.get("type") != "null"]
    types = {v.get("type") for v in typed}
    literals = [c for v in typed for c in (v.get("enum") or ([v["const"]] if "const" in v else []))]
    numeric = next((v for v in typed if v.get("type") in ("integer", "number")), {})
    form: dict[str, Any] = {
        "section": section,
        "name": name,
        "path": name if section == "method" else f"{section}.{name}",
        "label": _label(name),
        "info": prop.get("description", ""),
        "default": prop.get("default"),
        "optional": optional or not required,
        "required": required,
        "choices": None,
        "minimum": numeric.get("minimum", numeric.get("exclusiveMinimum")),
        "maximum": numeric.get("maximum", numeric.get("exclusiveMaximum")),
    }
    if types == {"boolean"}:
        form["kind"] = "bool"
    elif types == {"string"} and all("enum" in v or "const" in v for v in typed):
        form["kind"], form["choices"] = "choice", literals
    elif types == {"integer"}:
        form["kind"] = "int"
    elif types == {"number"} or types == {"integer", "number"}:
        form["kind"] = "float"
    elif "array" in types and all(
        _resolve(doc, v.get("items", {})).get("type") == "string" for v in typed if v.get("type") == "array"
    ):
        form["kind"] = "list"  # a list of names, or one of the literal words (e.g. all-linear)
        form["choices"] = literals or None
    elif "array" in types or "object" in types:
        form["kind"] = "json"
    else:
        form["kind"] = "text"  # e.g. int | "auto": typed as text, parsed on the way out
        form["choices"] = literals or None
    return form


def _object_fields(doc: dict, schema: dict, section: str) -> list[dict]:
    required = set(schema.get("required", []))
    return [
        field_form(doc, section, name, prop, name in required)
        for name, prop in schema.get("properties", {}).items()
    ]


def method_forms(doc: dict) -> dict[str, dict]:
    """Every training method of POST /api/jobs, in the server's order, with its description and fields."""
    spec_prop = _resolve(doc, doc["components"]["schemas"]["JobCreate"])["properties"]["spec"]
    forms: dict[str, dict] = {}
    for variant in _variants(spec_prop):
        schema = _resolve(doc, variant)
        props = schema.get("properties", {})
        method_prop = props.get("method", {})
        method = method_prop.get("const") or (method_prop.get("enum") or [method_prop.get("default")])[0]
        fields: list[dict] = []
        for name, prop in props.items():
            if name == "method":
                continue
            target = _resolve(doc, _variants(prop)[0])
            if name in ("adapter", "training") and target.get("type") == "object":
                fields.extend(_object_fields(doc, target, name))
            else:
                fields.append(field_form(doc, "method", name, prop, name in schema.get("required", [])))
        forms[method] = {
            "method": method,
            "title": schema.get("title", method),
            "description": schema.get("description", ""),
            "fields": fields,
        }
    return forms


def schema_fields(doc: dict, schema_name: str) -> dict[str, dict]:
    """The fields of one named schema (e.g. GenerationCreate) by name: help text, default and range."""
    schema = _resolve(doc, doc["components"]["schemas"][schema_name])
    return {f["name"]: f for f in _object_fields(doc, schema, "method")}


def initial_value(field: dict) -> Any:
    """What a widget shows before the user touches it."""
    default = field["default"]
    if field["kind"] == "list":
        return ", ".join(default) if isinstance(default, list) else (default or "")
    if field["kind"] == "json":
        if default is None and field["name"] == "rewards":
            return json.dumps([{"kind": "length", "target_length": 200, "weight": 1.0}], indent=2)
        return "" if default is None else json.dumps(default, indent=2)
    if field["kind"] == "text":
        return "" if default is None else str(default)
    return default


class SpecError(ValueError):
    """A form value the UI could not turn into spec JSON (the server validates ranges itself)."""


def _parse(field: dict, value: Any) -> Any:
    """A widget's value as spec JSON; None means "leave it to the server's default"."""
    kind = field["kind"]
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "bool":
        return bool(value)
    if kind == "choice":
        return value
    if kind == "list":
        text = str(value).strip()
        if field.get("choices") and text in field["choices"]:
            return text
        return [part.strip() for part in text.split(",") if part.strip()]
    if kind == "json":
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise SpecError(f"{field['label']}: not valid JSON ({exc.msg}, line {exc.lineno}).") from exc
    text = str(value).strip()  # text: a number where the schema allows one, else the word itself
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def build_spec(method: str, fields: list[dict], values: list[Any]) -> dict:
    """The `spec` of POST /api/jobs from the form.

    Returns {"method": ..., "adapter": {...}, "training": {...}, ...}.
    """
    spec: dict[str, Any] = {"method": method}
    for field, value in zip(fields, values, strict=True):
        parsed = _parse(field, value)
        if parsed is None:
            if field["required"]:
                raise SpecError(f"{field['label']} is required.")
            continue
        if field["section"] == "method":
            spec[field["name"]] = parsed
        else:
            spec.setdefault(field["section"], {})[field["name"]] = parsed
    return spec
