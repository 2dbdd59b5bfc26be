"""Write-then-rename output files, so a failed or abandoned write leaves nothing at the destination."""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

_QUEUE_DEPTH = 4  # batches in flight to the writer thread: bounds memory to a few batches


class AtomicOutput:
    """A binary temp file beside the destination that also counts bytes and hashes what it writes.

    Hashing and writing run on a background thread: both release the GIL, so on a 2-core machine the
    disk I/O and sha256 overlap with parsing on the main thread instead of adding to it.
    """

    def __init__(self, dest: Path):
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        self.dest, self.tmp = dest, Path(tmp)
        self.file = os.fdopen(fd, "wb", buffering=1 << 20)
        self._sha = hashlib.sha256()
        self.bytes_written = 0
        self.abandoned = False
        self._queue: queue.Queue[list[bytes] | bytes | None] = queue.Queue(maxsize=_QUEUE_DEPTH)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name="ingest-writer", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is not None:
                continue  # keep draining so the producer never blocks on a dead writer
            try:
                data = b"\n".join(item) + b"\n" if isinstance(item, list) else item
                self._sha.update(data)
                self.file.write(data)
                self.bytes_written += len(data)
            except BaseException as exc:  # noqa: BLE001 - surfaced to the producer on its next call
                self._error = exc

    def _put(self, item: list[bytes] | bytes) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(item)

    def write_lines(self, lines: list[bytes]) -> None:
        """Queue JSON lines (without newlines) for writing; the list is handed over, do not reuse it."""
        self._put(lines)

    def write(self, data: bytes) -> None:
        self._put(data)

    def close(self) -> None:
        """Flush the writer thread and close the file; raises what the writer hit, if anything."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self.file.close()
        if self._error is not None:
            raise self._error

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()

    def abandon(self) -> None:
        """Discard the output at the end instead of publishing it."""
        self.abandoned = True


@contextlib.contextmanager
def atomic_output(dest: str | os.PathLike) -> Iterator[AtomicOutput]:
    """Yield an AtomicOutput; rename it onto ``dest`` on a clean exit, delete it on error or abandon()."""
    out = AtomicOutput(Path(dest))
    try:
        yield out
        out.close()
        if out.abandoned:
            out.tmp.unlink(missing_ok=True)
        else:
            os.replace(out.tmp, out.dest)
    except BaseException:
        with contextlib.suppress(BaseException):
            out.close()
        out.tmp.unlink(missing_ok=True)
        raise
