"""Column mapping: rename source columns to target fields and build fields from templates.

Design: two plain dicts, both keyed by the *target* field of the normalised format.

- ``mapping = {"input": "dialogue", "output": "summary"}`` copies a source column into a target field.
- ``templates = {"instruction": "Summarize the following conversation."}`` builds a target field from a
  ``str.format`` template over the source row; a template without placeholders is a constant.
  ``{"input": "Dialogue:\\n{dialogue}"}`` wraps a column. Only bare column names may appear in braces.

Unmapped source columns stay as they are, so mapping one column of an otherwise well-named file works.
A column named in a mapping or template that the row lacks is reported as ``missing_field``.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import Any

_FORMATTER = string.Formatter()


def _template_columns(template: str) -> list[str]:
    """The column names a template refers to; rejects attribute/index access and format specs."""
    columns = []
    for _, name, spec, conv in _FORMATTER.parse(template):
        if name is None:
            continue
        if not name.isidentifier() and not name.replace(" ", "_").isidentifier():
            raise ValueError(f"template placeholder {{{name}}} must be a plain column name")
        if spec or conv:
            raise ValueError(f"template placeholder {{{name}}} must not carry a format spec or conversion")
        columns.append(name)
    return columns


def compile_mapping(
    mapping: dict[str, str] | None, templates: dict[str, str] | None
) -> Callable[[dict[str, Any]], tuple[dict[str, Any], list[str]]] | None:
    """Return row -> (mapped row, missing source columns), or None when there is nothing to map."""
    mapping = dict(mapping or {})
    templates = dict(templates or {})
    if not mapping and not templates:
        return None
    for target, source in mapping.items():
        if not isinstance(target, str) or not isinstance(source, str):
            raise ValueError("mapping must be {target_field: source_column} with string keys and values")  # noqa: TRY004 - one error type for bad options
    compiled = {target: (tpl, _template_columns(tpl)) for target, tpl in templates.items()}
    sources = set(mapping.values())

    def apply(row: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        missing = []
        # drop the renamed-away source columns so they cannot trigger a second format guess
        out = {k: v for k, v in row.items() if k not in sources}
        for target, source in mapping.items():
            if source in row:
                out[target] = row[source]
            else:
                missing.append(source)
        for target, (tpl, cols) in compiled.items():
            absent = [c for c in cols if c not in row]
            if absent:
                missing.extend(absent)
                continue
            out[target] = tpl.format_map({c: "" if row[c] is None else row[c] for c in cols})
        return out, missing

    return apply
