"""`{% load access %}{% if request.user|may:"settlements.upload" %}`: show a button only to who may press it."""

from __future__ import annotations

from typing import Any

from django import template

from config.common.access import allowed

register = template.Library()


@register.filter
def may(user: Any, operation: str) -> bool:
    return allowed(operation=operation, user=user)
