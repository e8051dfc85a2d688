from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import QuerySet

from config.common.models import ExceptionItem


def exceptions_open_for(*, source: models.Model) -> QuerySet[ExceptionItem]:
    source_type = ContentType.objects.get_for_model(source, for_concrete_model=False)
    return ExceptionItem.objects.filter(
        source_type=source_type, source_id=str(source.pk), status=ExceptionItem.Status.OPEN
    )
