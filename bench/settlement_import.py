"""Settlement import and journal export benchmark, as ratios to PostgreSQL's own COPY in the same run.

1. Import: `settlement_file_import` of an N-row V2 settlement file (parse, check, load, match to orders, GL
   accounts, totals, exceptions, journal; one transaction) versus COPY of the very same rows, already in
   PostgreSQL's text format, into the same table (same indexes and constraints). Ratio = COPY time / import
   time (target ≥ 0.5: at least half COPY's speed).
2. Memory: the import's peak RSS for N/10 and N rows, each in a fresh process (target: flat).
3. Export: the journal of that settlement at line detail (one journal line per settlement line) written as CSV
   by `journal_csv_write` versus `COPY (SELECT * FROM reconciliation_journalline …) TO STDOUT`. Ratio = export
   time / COPY time (target ≤ 3).

    .venv/bin/python bench/settlement_import.py [--rows 1000000] [--repeat 2]

Needs PostgreSQL on 127.0.0.1:5432 (a throwaway database `ledgerline_bench` is recreated each run).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB = "ledgerline_bench"
ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.base",
    "DATABASE_URL": f"{PG}/{DB}",
    "LOG_LEVEL": "WARNING",
}


def reset_database() -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB}")


def setup_django(storage: Path) -> None:
    os.environ.update(ENV, SETTLEMENT_STORAGE_DIR=str(storage))
    import django

    django.setup()


def make_file(path: Path, rows: int) -> None:
    subprocess.run(
        [sys.executable, "-m", "simulators.spapi.settlement_files", "--rows", str(rows), "--style", "iso",
         "--currency", "GBP", "--seed", "11", "--out", str(path)],
        cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip


def child(args: argparse.Namespace) -> None:
    """One measured step in a fresh process (so peak RSS is this step's own)."""
    setup_django(Path(args.storage))
    from django.db import connection, transaction

    from reconciliation.models import Settlement, SettlementLine
    from reconciliation.services import settlement_file_import, settlement_file_store_path

    result: dict[str, float | int | str] = {}
    if args.child == "import":
        file, _ = settlement_file_store_path(path=Path(args.path), source="bench")
        start = time.perf_counter()
        file = settlement_file_import(file_id=file.pk)
        result["seconds"] = time.perf_counter() - start
        assert file.state == "imported", file.error
        assert file.settlement is not None
        result["rows"] = file.rows_imported
        result["status"] = file.settlement.status
        result["balanced"] = int(
            file.settlement.journals.get().total_debit == file.settlement.journals.get().total_credit
        )
    elif args.child == "copy":
        # The same rows, already in COPY's text format, into the same table, with its indexes and constraints.
        columns = Path(args.path).read_text().splitlines()[0]
        settlement = Settlement.objects.create(settlement_id=f"copy-{time.time_ns()}", total_amount=0, currency="GBP")
        start = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            copy_sql = f"COPY {SettlementLine._meta.db_table} ({columns}) FROM STDIN"
            with cursor.cursor.copy(copy_sql) as copy, open(args.path + ".data", "rb") as data:
                while chunk := data.read(1 << 20) + data.readline():  # whole lines
                    copy.write(chunk.replace(b"@SETTLEMENT@", str(settlement.pk).encode()))
        result["seconds"] = time.perf_counter() - start
    result["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def run_child(kind: str, path: Path, storage: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--path", str(path), "--storage", str(storage)],
        cwd=ROOT, check=True, capture_output=True, text=True, env={**os.environ, **ENV},
    )  # fmt: skip
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def copy_input(path: Path, storage: Path) -> None:
    """Parse once (not timed) and write exactly the rows the import writes, in COPY's text format."""
    setup_django(storage)
    from reconciliation.parser import SettlementReader
    from reconciliation.services.classify import GlResolver
    from reconciliation.services.importer import _rows
    from reconciliation.services.loader import COLUMNS

    with path.open(newline="", encoding="utf-8") as text, open(f"{path}.copy.data", "w") as out:
        for row in _rows(SettlementReader(text), GlResolver.load()):
            out.write("@SETTLEMENT@\tGBP\t" + "\t".join(row) + "\n")
    Path(f"{path}.copy").write_text(", ".join(["settlement_id", "currency", *COLUMNS]) + "\n")


def clear_lines() -> None:
    with psycopg.connect(f"{PG}/{DB}", autocommit=True) as conn:
        conn.execute(
            "TRUNCATE reconciliation_journalline, reconciliation_journalentry, reconciliation_settlementline, "
            "reconciliation_settlementfile, reconciliation_settlement, common_exceptionitem CASCADE"
        )
        conn.execute("VACUUM ANALYZE")


def export_bench(storage: Path, repeat: int) -> tuple[float, float, int]:
    setup_django(storage)
    from django.conf import settings
    from django.db import connection

    from reconciliation.models import JournalEntry, Settlement
    from reconciliation.services import settlement_journal_build
    from reconciliation.services.export import JournalFilter, journal_csv_write

    settlement = Settlement.objects.get()
    JournalEntry.objects.filter(settlement=settlement).delete()
    settings.LEDGER_JOURNAL_DETAIL = "line"
    [entry] = settlement_journal_build(settlement=settlement)  # the generated settlement is within one month

    class Sink:
        size = 0

        def write(self, data: bytes) -> None:
            self.size += len(data)

    ours, base = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        with connection.cursor() as cursor:
            sql = f"COPY (SELECT * FROM reconciliation_journalline WHERE entry_id = {entry.pk}) TO STDOUT"
            with cursor.cursor.copy(sql) as copy:
                for _chunk in copy:
                    pass
        base.append(time.perf_counter() - start)
        sink = Sink()
        start = time.perf_counter()
        journal_csv_write(out=sink, filters=JournalFilter(settlement_id=settlement.settlement_id))  # type: ignore[arg-type]
        ours.append(time.perf_counter() - start)
    return min(ours), min(base), entry.line_count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--child")
    parser.add_argument("--path")
    parser.add_argument("--storage")
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    reset_database()
    work = Path(tempfile.mkdtemp(prefix="settlement-bench-"))
    storage = work / "storage"
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, check=True, env={**os.environ, **ENV})
    small, big = work / "small.txt", work / "big.txt"
    print(f"Generating {args.rows // 10:,}- and {args.rows:,}-row settlement files ...", flush=True)
    make_file(small, args.rows // 10)
    make_file(big, args.rows)
    print(f"  {big.stat().st_size / 1e6:,.0f} MB", flush=True)
    copy_input(big, storage)

    imports, copies = [], []
    for _ in range(args.repeat):
        clear_lines()
        copies.append(run_child("copy", Path(f"{big}.copy"), storage)["seconds"])
        clear_lines()
        done = run_child("import", big, storage)
        imports.append(done["seconds"])
    assert done["balanced"] == 1
    clear_lines()
    small_run = run_child("import", small, storage)
    clear_lines()
    big_run = run_child("import", big, storage)

    best_import, best_copy = min(imports), min(copies)
    print(f"\nImport of {args.rows:,} rows (best of {args.repeat}, parse → journal, one transaction):")
    print(f"  PostgreSQL COPY of the same rows: {best_copy:6.2f} s  ({args.rows / best_copy:,.0f} rows/s)")
    print(f"  settlement_file_import:           {best_import:6.2f} s  ({args.rows / best_import:,.0f} rows/s)")
    print(f"  speed ratio (COPY time / import time): {best_copy / best_import:.2f}  (target >= 0.5)")
    print(f"  settlement status after import: {done['status']}; journal balanced: yes")
    print("\nPeak memory of the import process (fresh process each):")
    print(f"  {args.rows // 10:>10,} rows: {small_run['max_rss_mb']:6.0f} MB")
    growth = big_run["max_rss_mb"] / small_run["max_rss_mb"]
    print(f"  {args.rows:>10,} rows: {big_run['max_rss_mb']:6.0f} MB  (x{growth:.2f} for 10x the rows)")

    ours, base, lines = export_bench(storage, args.repeat)
    print(f"\nJournal CSV export of {lines:,} lines (best of {args.repeat}):")
    print(f"  COPY (SELECT * FROM journal lines) TO STDOUT: {base:6.2f} s")
    print(f"  journal_csv_write (joins, formula guard):     {ours:6.2f} s")
    print(f"  ratio (export time / COPY time): {ours / base:.2f}  (target <= 3)")


if __name__ == "__main__":
    main()
