"""Settlement files: kept as received first, then imported in one transaction (all of it or nothing).

A file is stored under its SHA-256 before anything reads it, so a rejected file is still there to look at and
to try again; the same bytes received twice are one file, and a settlement already imported (by settlement-id)
is never imported again, whatever file it comes in.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_q.tasks import async_task

from config.common.alerts import alert_raise
from config.common.models import ExceptionItem
from config.common.services import exception_open, exceptions_resolve_for
from orders.models import SellerAccount
from reconciliation.models import Settlement, SettlementFile
from reconciliation.parser import SettlementParseError, SettlementReader, detect_encoding
from reconciliation.services import loader
from reconciliation.services.classify import AMAZON_ORDER_ID, GlResolver, type_kind
from reconciliation.services.settlements import settlement_reconcile

logger = logging.getLogger(__name__)
ACTOR = "system:settlements"
NULL = loader.NULL


@dataclass(frozen=True)
class ImportProgress:
    file_id: int
    rows: int
    bytes_read: int
    size: int
    seconds: float

    @property
    def fraction(self) -> float:
        return min(self.bytes_read / self.size, 1.0) if self.size else 1.0


ProgressCallback = Callable[[ImportProgress], None]


def _storage() -> Path:
    path = Path(settings.SETTLEMENT_STORAGE_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def settlement_file_store(
    *, data: IO[bytes], name: str, source: str, seller_account: SellerAccount | None = None
) -> tuple[SettlementFile, bool]:
    """Keep the bytes (streamed to disk, hashed on the way) and record the file. (file, created)."""
    storage = _storage()
    digest = hashlib.sha256()
    size = 0
    with tempfile.NamedTemporaryFile(dir=storage, delete=False, prefix=".incoming-") as out:
        while chunk := data.read(1 << 20):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
    sha = digest.hexdigest()
    final = storage / f"{sha}.txt"
    if final.exists():
        os.unlink(out.name)
    else:
        os.replace(out.name, final)
    file, created = SettlementFile.objects.get_or_create(
        sha256=sha,
        defaults={
            "name": name[:255], "path": str(final), "size": size, "source": source[:100],
            "seller_account": seller_account,
        },
    )  # fmt: skip
    return file, created


def settlement_file_store_path(*, path: Path, source: str = "command line") -> tuple[SettlementFile, bool]:
    with path.open("rb") as data:
        return settlement_file_store(data=data, name=path.name, source=source)


class _CountingReader(io.RawIOBase):
    """Counts the bytes read (progress) and remembers whether the file ends with a line break (truncation)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw, self.count, self.last = raw, 0, b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self.raw.readinto(buffer)  # type: ignore[attr-defined]
        if n:
            self.count += n
            self.last = bytes(buffer[n - 1 : n])
        return int(n or 0)


def _rows(reader: SettlementReader, resolver: GlResolver) -> Iterator[tuple[str, ...]]:
    """Parser rows plus what Python decides from small caches: the row's kind and its GL account."""
    kinds: dict[tuple[str, str, bool], str] = {}
    match_order_id = AMAZON_ORDER_ID.fullmatch
    resolve = resolver.resolve
    for row in reader.rows(null=NULL):
        tt, order_id, merchant_order_id, at, ad = row[1], row[2], row[3], row[7], row[8]
        key = (tt, ad, bool(order_id or merchant_order_id))
        kind = kinds.get(key)
        if kind is None:
            kind = kinds[key] = type_kind(tt, ad, has_order=key[2]) if len(kinds) < 10_000 else "maybe"
        if kind == "maybe":
            kind = "order" if match_order_id(order_id) else "fee"
        gl = resolve(tt, at, ad)
        yield (*row, kind, NULL if gl is None else str(gl))


def _progress_path(file: SettlementFile) -> Path:
    return Path(f"{file.path}.progress")


def settlement_file_progress(*, file: SettlementFile) -> dict[str, Any] | None:
    """What an import in progress (in another process) has done so far, for the admin."""
    try:
        return dict(json.loads(_progress_path(file).read_text()))
    except (OSError, ValueError):
        return None


def settlement_file_import(*, file_id: int, progress: ProgressCallback | None = None) -> SettlementFile:
    """Import a stored file. Idempotent: an imported or duplicate file is left as it is."""
    file = SettlementFile.objects.get(pk=file_id)
    if file.state in (SettlementFile.State.IMPORTED, SettlementFile.State.DUPLICATE):
        return file
    started = time.monotonic()
    marker = _progress_path(file)
    last_write = [0.0]

    def report(rows: int, counter: _CountingReader) -> None:
        now = time.monotonic()
        info = ImportProgress(file.pk, rows, counter.count, file.size, now - started)
        if progress is not None:
            progress(info)
        if now - last_write[0] >= 1.0:
            last_write[0] = now
            marker.write_text(json.dumps({"rows": rows, "fraction": round(info.fraction, 4), "seconds": now - started}))

    try:
        for attempt in range(2):
            try:
                with open(file.path, "rb") as raw:
                    encoding = detect_encoding(raw)
                    counter = _CountingReader(raw)
                    text = io.TextIOWrapper(
                        io.BufferedReader(counter, 1 << 20), encoding=encoding, newline="", errors="strict"
                    )
                    settlement = _import(file, text, counter, functools.partial(report, counter=counter))
                break
            except IntegrityError:
                if attempt:
                    raise
                # Another process imported the same settlement-id meanwhile: now it is a duplicate.
                continue
    except SettlementParseError as exc:
        return _reject(file, exc.reason, exc.line)
    except OSError as exc:
        return _reject(file, f"cannot read the stored file: {exc}", None)
    finally:
        marker.unlink(missing_ok=True)
    file.refresh_from_db()
    logger.info("settlement file %s: %s (%s rows)", file.name, file.state, file.rows_imported)
    if settlement is not None:
        settlement_reconcile(settlement=settlement, actor=ACTOR)
        # Fee and refund rates of the new lines, in the worker (SQL aggregates; the hourly scan is the safety net).
        settlement_pk = settlement.pk
        transaction.on_commit(lambda: async_task("reconciliation.tasks.settlement_anomalies_scan_task", settlement_pk))
    file.seconds = time.monotonic() - started
    file.save(update_fields=["seconds", "updated_at"])
    return file


def _import(
    file: SettlementFile, text: IO[str], counter: _CountingReader, progress: Callable[[int], None]
) -> Settlement | None:
    with transaction.atomic():
        SettlementFile.objects.select_for_update().get(pk=file.pk)
        reader = SettlementReader(text)
        summary = reader.summary
        existing = Settlement.objects.filter(settlement_id=summary.settlement_id).first()
        if existing is not None:
            file.state, file.settlement = SettlementFile.State.DUPLICATE, existing
            file.error, file.error_line, file.next_attempt_at = "", None, None
            file.save(update_fields=["state", "settlement", "error", "error_line", "next_attempt_at", "updated_at"])
            exceptions_resolve_for(source=file, actor=ACTOR, note="settlement already imported")
            return None
        settlement = Settlement.objects.create(
            settlement_id=summary.settlement_id,
            seller_account=file.seller_account,
            start_date=summary.start_date,
            end_date=summary.end_date,
            deposit_date=summary.deposit_date,
            total_amount=summary.total_amount,
            currency=summary.currency,
        )
        rows = loader.lines_load(_rows(reader, GlResolver.load()), settlement=settlement, progress=progress)
        if rows == 0:
            raise SettlementParseError(3, "the settlement has a summary row but no amount rows")
        lines_total = loader.lines_total(settlement=settlement)
        if lines_total != summary.total_amount and counter.last not in (b"\n", b"\r"):
            # Cut short mid-download: the sums disagree and the last row has no line break.
            raise SettlementParseError(
                reader.last_line,
                f"the file ends without a line break and its {rows} amount rows add up to {lines_total}, not "
                f"the summary's {summary.total_amount}: the file is truncated",
            )
        settlement.line_count, settlement.lines_total = rows, lines_total
        settlement.save(update_fields=["line_count", "lines_total", "updated_at"])
        file.state, file.settlement, file.rows_imported = SettlementFile.State.IMPORTED, settlement, rows
        file.error, file.error_line, file.next_attempt_at = "", None, None
        file.attempts += 1
        file.save()
        exceptions_resolve_for(source=file, actor=ACTOR, note="imported")
    return settlement


def _reject(file: SettlementFile, reason: str, line: int | None) -> SettlementFile:
    """Nothing of the file was kept (the transaction rolled back); say why, alert, and try again later."""
    file.refresh_from_db()
    file.attempts += 1
    file.state, file.error, file.error_line = SettlementFile.State.REJECTED, reason, line
    if file.attempts < settings.SETTLEMENT_MAX_ATTEMPTS:
        delay = settings.SETTLEMENT_RETRY_MINUTES * 2 ** (file.attempts - 1)
        file.next_attempt_at = timezone.now() + timedelta(minutes=delay)
    else:
        file.next_attempt_at = None
    file.save()
    where = f"line {line}: " if line else ""
    exception_open(
        kind=ExceptionItem.Kind.SETTLEMENT_FILE,
        source=file,
        summary=f"Settlement file {file.name} rejected: {where}{reason}",
        detail=(
            f"{where}{reason}\nNothing from this file was imported. Attempt {file.attempts}; "
            + (f"next try at {file.next_attempt_at:%Y-%m-%d %H:%M} UTC." if file.next_attempt_at else "no more tries.")
            + "\nReports API files are downloaded again on the next try; reprocess tries again now."
        ),
        reference=file.name,
    )
    alert_raise(
        key=f"settlement-file:{file.pk}", subject=f"Settlement file {file.name} rejected",
        body=f"{where}{reason}\nNothing was imported; attempt {file.attempts}. See Reconciliation › Settlement files.",
    )  # fmt: skip
    logger.warning("settlement file %s rejected: %s%s", file.name, where, reason)
    return file


def settlement_files_due(*, now: Any = None) -> list[int]:
    """Rejected files whose next try is due."""
    now = now or timezone.now()
    return list(
        SettlementFile.objects.filter(state=SettlementFile.State.REJECTED, next_attempt_at__lte=now).values_list(
            "pk", flat=True
        )
    )
