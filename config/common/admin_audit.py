"""Every admin action an operator runs (reprocess, discard, release, re-import, ...) goes into the admin's own
history (LogEntry, per object, with the action's name), next to the field-level changes django-auditlog keeps.
Done once here for every ModelAdmin, so no action can forget it."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import CHANGE, LogEntry
from django.http import HttpRequest

_original = admin.ModelAdmin.response_action
MAX_LOGGED = 1_000


def _response_action(self: admin.ModelAdmin[Any], request: HttpRequest, queryset: Any, *args: Any) -> Any:
    action = request.POST.get("action", "")
    selected = request.POST.getlist(ACTION_CHECKBOX_NAME)
    response = _original(self, request, queryset, *args)
    if action and action != "delete_selected" and request.user.is_authenticated and selected:
        objects = list(self.model._default_manager.filter(pk__in=selected[:MAX_LOGGED]))
        if objects:
            LogEntry.objects.log_actions(
                user_id=request.user.pk, queryset=objects, action_flag=CHANGE, change_message=f"Admin action: {action}"
            )
    return response


admin.ModelAdmin.response_action = _response_action  # type: ignore[method-assign,assignment]
