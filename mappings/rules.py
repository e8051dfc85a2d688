"""Apply field mapping templates: dotted source paths, four transforms, clear errors for bad rules.

A rule never guesses: a lookup that does not find its key uses the rule's default, a format that names an
unknown path renders it empty, and a `required` rule that comes out empty is reported so the caller can hold
the order instead of sending half a record.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass, field
from typing import Any

from mappings.models import FieldMappingRule, FieldMappingTemplate


def resolve_path(context: dict[str, Any], path: str) -> Any:
    """`a.b.c` through dicts (and objects' attributes for plain data holders); None when any step is missing."""
    value: Any = context
    for part in path.split("."):
        if not part:
            return None
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit():
            value = value[int(part)] if int(part) < len(value) else None
        else:
            return None
        if value is None:
            return None
    return value


class _PathFormatter(string.Formatter):
    def __init__(self, context: dict[str, Any]) -> None:
        self.context = context

    def get_value(self, key: Any, args: Any, kwargs: Any) -> Any:
        if key == "value":
            return kwargs.get("value", "")
        found = resolve_path(self.context, str(key))
        return "" if found is None else found

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> Any:
        return self.get_value(field_name, args, kwargs), field_name


@dataclass
class MappingResult:
    values: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)  # required targets that came out empty
    errors: list[str] = field(default_factory=list)  # rules that cannot work (bad JSON, bad template)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def rule_apply(rule: FieldMappingRule, context: dict[str, Any]) -> str:
    """The value of one rule; raises ValueError with the reason for a rule that cannot be applied."""
    source = resolve_path(context, rule.source_path) if rule.source_path else None
    if rule.transform == FieldMappingRule.Transform.CONSTANT:
        return rule.argument
    if rule.transform == FieldMappingRule.Transform.COPY:
        text = _as_text(source)
        return text if text else rule.default
    if rule.transform == FieldMappingRule.Transform.LOOKUP:
        try:
            table = json.loads(rule.argument or "{}")
        except json.JSONDecodeError as exc:
            raise ValueError(f"lookup table of {rule.target_field} is not JSON: {exc}") from exc
        if not isinstance(table, dict):
            raise ValueError(f"lookup table of {rule.target_field} must be a JSON object")
        return _as_text(table.get(_as_text(source), rule.default))
    try:
        return _PathFormatter(context).format(rule.argument, value=_as_text(source))
    except (ValueError, IndexError) as exc:
        raise ValueError(f"format of {rule.target_field} is invalid: {exc}") from exc


def template_apply(*, target: str, context: dict[str, Any]) -> MappingResult:
    """Apply every active template of `target` (in name order; a later template overrides a field)."""
    result = MappingResult()
    rules = FieldMappingRule.objects.filter(template__target=target, template__is_active=True).select_related(
        "template"
    )
    for rule in sorted(rules, key=lambda r: (r.template.name, r.position, r.pk)):
        try:
            value = rule_apply(rule, context)
        except ValueError as exc:
            result.errors.append(f"{rule.template.name}: {exc}")
            continue
        result.values[rule.target_field] = value
        if rule.required and not value.strip():
            result.missing.append(rule.target_field)
    return result


def templates_for(target: str) -> list[FieldMappingTemplate]:
    return list(FieldMappingTemplate.objects.filter(target=target, is_active=True))
