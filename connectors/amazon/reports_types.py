"""What the Reports 2021-06-30 client returns, and the parser of Amazon's `Report` objects.
Model: https://github.com/amzn/selling-partner-api-models/blob/main/models/reports-api-model/reports_2021-06-30.json
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.amazon.base import malformed

SETTLEMENT_V2 = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"
PROCESSING_STATUSES = ("CANCELLED", "DONE", "FATAL", "IN_PROGRESS", "IN_QUEUE")
FINAL_STATUSES = frozenset({"CANCELLED", "DONE", "FATAL"})


@dataclass(frozen=True)
class Report:
    """A `Report` of the Reports API; times are aware UTC datetimes."""

    report_id: str
    report_type: str
    processing_status: str
    created_time: datetime
    marketplace_ids: tuple[str, ...] = ()
    data_start_time: datetime | None = None
    data_end_time: datetime | None = None
    processing_start_time: datetime | None = None
    processing_end_time: datetime | None = None
    report_document_id: str | None = None
    report_schedule_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # as Amazon sent it

    @property
    def is_final(self) -> bool:
        return self.processing_status in FINAL_STATUSES


@dataclass(frozen=True)
class ReportsPage:
    reports: tuple[Report, ...]
    next_token: str | None
    rate_limit: float | None


@dataclass(frozen=True)
class CreatedReport:
    report_id: str


@dataclass(frozen=True)
class ReportDocument:
    report_document_id: str
    url: str = field(repr=False)  # pre-signed: a credential for 5 minutes
    compression_algorithm: str | None = None  # "GZIP" or None


@dataclass(frozen=True)
class DownloadedDocument:
    """A document written to `path`, decompressed: `size` and `sha256` are of the bytes in the file."""

    report_document_id: str
    path: Path
    size: int
    sha256: str
    compression_algorithm: str | None
    downloaded_bytes: int  # as transferred (compressed when GZIP)
    content_type: str | None
    charset: str | None  # from Content-Type; Amazon's varies by marketplace, so decode with it, not a guess


def _time(raw: dict[str, Any], key: str, operation: str, *, required: bool = False) -> datetime | None:
    value = raw.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise malformed(operation, f"a report without a valid {key}")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise malformed(operation, f"a report with {key} {value!r}, not ISO 8601") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_report(raw: Any, operation: str = "getReport") -> Report:
    """A `Report` object as Amazon sends it → Report (RetryableConnectorError when it lacks the model's required
    fields, like the orders client does for payloads without their list)."""
    if not isinstance(raw, dict):
        raise malformed(operation, "a report that is not an object")
    for key in ("reportId", "reportType", "processingStatus"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise malformed(operation, f"a report without {key}")
    created = _time(raw, "createdTime", operation, required=True)
    assert created is not None
    markets = raw.get("marketplaceIds") or []
    document = raw.get("reportDocumentId")
    schedule = raw.get("reportScheduleId")
    return Report(
        report_id=raw["reportId"],
        report_type=raw["reportType"],
        processing_status=raw["processingStatus"],
        created_time=created,
        marketplace_ids=tuple(str(m) for m in markets) if isinstance(markets, list) else (),
        data_start_time=_time(raw, "dataStartTime", operation),
        data_end_time=_time(raw, "dataEndTime", operation),
        processing_start_time=_time(raw, "processingStartTime", operation),
        processing_end_time=_time(raw, "processingEndTime", operation),
        report_document_id=document if isinstance(document, str) and document else None,
        report_schedule_id=schedule if isinstance(schedule, str) and schedule else None,
        raw=raw,
    )
