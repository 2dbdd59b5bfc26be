"""Dataset ingestion: stream an upload, validate it, and write normalised JSONL (no DB, no ML imports).

    report = ingest_file(upload_path, dest, filename="chats.jsonl")      # -> IngestReport
    rows = read_rows(dest, offset=0, limit=20)                           # preview paging
    dedup_exact(dest, clean); split(clean, train, val, val_fraction=0.1, seed=0)
    export(train, "train.parquet", fmt="parquet")

Exceptions:
    ValueError          a caller bug: bad option (unknown format, malformed template, bad fraction)
    DatasetInvalid      the upload has errors; ``.report`` is the full IngestReport
    LimitExceeded       reading the upload passed one of its Limits (size, expansion, row length, rows)
"""

from backend.ingest.clean import CleanStats, dedup_exact, dedup_near, filter_length, split
from backend.ingest.export import export
from backend.ingest.formats import FORMATS, detect_format
from backend.ingest.ingest import WARNING_KINDS, ingest_file
from backend.ingest.jsonl import count_rows, read_rows
from backend.ingest.limits import LimitExceeded, Limits
from backend.ingest.report import MESSAGES, DatasetInvalid, Example, IngestReport, Issue

__all__ = [
    "FORMATS",
    "MESSAGES",
    "WARNING_KINDS",
    "CleanStats",
    "DatasetInvalid",
    "Example",
    "IngestReport",
    "Issue",
    "LimitExceeded",
    "Limits",
    "count_rows",
    "dedup_exact",
    "dedup_near",
    "detect_format",
    "export",
    "filter_length",
    "ingest_file",
    "read_rows",
    "split",
]
