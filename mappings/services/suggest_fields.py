"""Suggestions for order custom fields no field rule uses: which ERP sales-order field a metadata key fills.

Sources are the keys of recent orders' `metadata` that no rule of a sales-order template reads, one per active
template. Candidates are the ERP fields the template does not fill yet: Dynamics SL's usual sales-order fields
and the fields other templates fill. Evidence: the key against the field's name and meaning, against the
sources other rules read for that field, the same key already mapped to the field in another template, and a
rule of the template waiting for a source.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import Max

from config.common.errors import ApplicationError
from config.common.models import ExceptionItem
from mappings.models import FieldMappingRule, FieldMappingTemplate, MappingSuggestion
from mappings.services.suggest_base import Candidate, FeatureSpec, ScoringModel, Source
from mappings.similarity import name_similarity
from orders.models import Order

PREFIX = "order.metadata."
RECENT_ORDERS = 2000
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
_PHRASES = re.compile(r"[(),;]")

# Dynamics SL sales-order header fields a custom field usually ends up in, with what they mean.
SL_SALES_ORDER_FIELDS = {
    "CustOrdNbr": "Customer order number (PO number, purchase order, customer reference)",
    "BuyerName": "Buyer name (contact, ordered by, requester)",
    "ShipViaID": "Ship via (carrier, shipping method, delivery service)",
    "SlsperID": "Salesperson (sales rep, agent, account manager)",
    "TermsID": "Payment terms",
    "SiteID": "Warehouse (site, location, depot)",
    "ContractNbr": "Contract number (agreement)",
    "ProjectID": "Project (job code)",
}


def _reads(rule: FieldMappingRule) -> set[str]:
    paths = {rule.source_path} if rule.source_path else set()
    if rule.transform == FieldMappingRule.Transform.FORMAT:
        paths |= {p.split("!")[0].split(":")[0] for p in _PLACEHOLDER.findall(rule.argument)}
    return paths


def _is_placeholder(rule: FieldMappingRule) -> bool:
    return not rule.source_path and rule.transform == FieldMappingRule.Transform.COPY


class CustomFieldSuggester:
    kind: str = MappingSuggestion.Kind.CUSTOM_FIELD
    bias: float = -3.5
    specs: tuple[FeatureSpec, ...] = (
        FeatureSpec("name_similar", 3.5, "Key like the field's name"),
        FeatureSpec("meaning_similar", 3.0, "Key like the field's meaning"),
        FeatureSpec("source_similar", 2.5, "Key like what other rules read for the field"),
        FeatureSpec("same_key_elsewhere", 5.0, "Same key mapped to the field in another template"),
        FeatureSpec("placeholder", 1.0, "The template has a rule for the field waiting for a source"),
    )

    def __init__(self) -> None:
        self.model: ScoringModel | None = None
        self.templates: dict[int, FieldMappingTemplate] = {}
        self.rules: list[FieldMappingRule] = []

    def prepare(self, *, model: ScoringModel, decided: Sequence[MappingSuggestion]) -> None:
        self.model = model
        self.rules = list(
            FieldMappingRule.objects.filter(template__target=FieldMappingTemplate.Target.ERP_SALES_ORDER)
            .select_related("template")
            .order_by("template__name", "position", "pk")
        )
        self.templates = {
            t.pk: t
            for t in FieldMappingTemplate.objects.filter(
                target=FieldMappingTemplate.Target.ERP_SALES_ORDER, is_active=True
            ).order_by("name")
        }

    def _used_paths(self) -> set[str]:
        """What active templates read. Rules of inactive templates (older versions) are evidence, not use."""
        return {path for rule in self.rules if rule.template.is_active for path in _reads(rule)}

    def sources(self) -> list[Source]:
        if not self.templates:
            return []
        used = self._used_paths()
        seen: dict[str, dict[str, Any]] = {}
        recent = Order.objects.exclude(metadata={}).order_by("-pk").values_list("external_id", "metadata")
        for external_id, metadata in recent[:RECENT_ORDERS]:
            if not isinstance(metadata, dict):
                continue
            for key, value in metadata.items():
                path = f"{PREFIX}{key}"
                if path in used or any(u.startswith(path + ".") for u in used):
                    continue
                entry = seen.setdefault(key, {"orders": 0, "examples": [], "refs": []})
                entry["orders"] += 1
                text = str(value)[:40]
                if text and text not in entry["examples"] and len(entry["examples"]) < 3:
                    entry["examples"].append(text)
                if len(entry["refs"]) < 5:
                    entry["refs"].append(external_id)
        sources: list[Source] = []
        for template in self.templates.values():
            for key, entry in sorted(seen.items()):
                context = {
                    "template_id": template.pk,
                    "template": template.name,
                    "key": key,
                    "path": f"{PREFIX}{key}",
                    "orders": entry["orders"],
                    "examples": entry["examples"],
                    "order_refs": entry["refs"],
                    "exception_ids": [],
                }
                sources.append(Source(key=f"{template.name}: {PREFIX}{key}", context=context))
        return sources

    def _targets(self, template_id: int) -> dict[str, str]:
        """field → meaning: the fields the template could fill from a new source."""
        filled = {r.target_field for r in self.rules if r.template_id == template_id and not _is_placeholder(r)}
        targets = {name: meaning for name, meaning in SL_SALES_ORDER_FIELDS.items() if name not in filled}
        for rule in self.rules:
            if rule.target_field not in filled:
                targets.setdefault(rule.target_field, "")
        return targets

    def candidates(self, source: Source) -> list[Candidate]:
        template_id = source.context["template_id"]
        return [
            self._candidate(source, field, meaning) for field, meaning in sorted(self._targets(template_id).items())
        ]

    def _candidate(self, source: Source, field: str, meaning: str) -> Candidate:
        key, path, template_id = source.context["key"], source.context["path"], source.context["template_id"]
        features: dict[str, float] = {}
        explain: dict[str, str] = {}
        name = name_similarity(key, field)
        if name > 0:
            features["name_similar"] = round(name, 4)
            explain["name_similar"] = f"The key {key} resembles the field name {field} ({name:.0%})"
        if meaning:
            # A meaning lists synonyms ("Customer order number (PO number, purchase order)"): the best one counts.
            phrases = [p.strip() for p in _PHRASES.split(meaning) if p.strip()]
            score, phrase = max((name_similarity(key, p), p) for p in phrases)
            if score > 0:
                features["meaning_similar"] = round(score, 4)
                explain["meaning_similar"] = (
                    f'The key {key} fits what {field} means ({meaning}): "{phrase}" ({score:.0%})'
                )
        others = [r for r in self.rules if r.target_field == field and r.source_path and r.source_path != path]
        best = (0.0, "")
        for rule in others:
            score = name_similarity(key, rule.source_path.rsplit(".", 1)[-1])
            if score > best[0]:
                best = (score, f"{rule.source_path} (template {rule.template.name})")
        if best[0] > 0:
            features["source_similar"] = round(best[0], 4)
            explain["source_similar"] = f"{field} is filled from {best[1]}, which resembles {key} ({best[0]:.0%})"
        same = [r for r in self.rules if r.target_field == field and r.source_path == path]
        if same:
            features["same_key_elsewhere"] = 1.0
            explain["same_key_elsewhere"] = f"Template {same[0].template.name} already fills {field} from {path}"
        waiting = [r for r in self.rules if r.template_id == template_id and r.target_field == field]
        if waiting and _is_placeholder(waiting[0]):
            features["placeholder"] = 1.0
            required = " (required: orders are held without it)" if waiting[0].required else ""
            explain["placeholder"] = f"The template has a rule for {field} without a source{required}"
        label = f"{field} — {meaning}" if meaning else field
        return Candidate(target_key=field, target_label=label, features=features, explain=explain)

    def still_unmapped(self, *, source_key: str, context: dict[str, Any]) -> bool:
        template = FieldMappingTemplate.objects.filter(pk=context["template_id"], is_active=True)
        if not template.exists():
            return False
        path = context["path"]
        rules = FieldMappingRule.objects.filter(
            template__target=FieldMappingTemplate.Target.ERP_SALES_ORDER, template__is_active=True
        )
        used = {p for rule in rules for p in _reads(rule)}
        return not any(u == path or u.startswith(path + ".") for u in used)

    def apply(self, *, source_key: str, context: dict[str, Any], target_key: str, target_label: str) -> str:
        template = FieldMappingTemplate.objects.filter(pk=context["template_id"]).first()
        if template is None:
            raise ApplicationError(f"Template {context['template']} no longer exists.")
        rule = FieldMappingRule.objects.filter(template=template, target_field=target_key).first()
        if rule is not None and not _is_placeholder(rule):
            raise ApplicationError(f"Template {template.name} already fills {target_key} ({rule}).")
        if rule is None:
            position = (template.rules.aggregate(m=Max("position"))["m"] or 0) + 1
            rule = FieldMappingRule(template=template, target_field=target_key, position=position)
            done = "created"
        else:
            done = "given its source"
        rule.source_path = context["path"]
        rule.transform = FieldMappingRule.Transform.COPY
        rule.full_clean()
        rule.save()
        return f"Field rule {context['path']} → {target_key} {done} in template {template.name}."

    def exceptions_to_reprocess(self, *, source_key: str, context: dict[str, Any]) -> list[int]:
        held = dict(
            ExceptionItem.objects.filter(
                kind=ExceptionItem.Kind.ERP_DATA,
                status=ExceptionItem.Status.OPEN,
                source_type=ContentType.objects.get_for_model(Order),
            ).values_list("source_id", "pk")
        )
        orders = Order.objects.filter(
            pk__in=[int(s) for s in held if s.isdigit()], metadata__has_key=context["key"]
        ).values_list("pk", flat=True)
        return sorted(held[str(pk)] for pk in orders)
