"""Write-then-rename output files, so a failed or abandoned write leaves nothing at the destination."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


class AtomicOutput:
    """A binary temp file beside the destination that also counts bytes and hashes what it writes."""

    def __init__(self, dest: Path):
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        self.dest, self.tmp = dest, Path(tmp)
        self.file = os.fdopen(fd, "wb", buffering=1 << 20)
        self._sha = hashlib.sha256()
        self.bytes_written = 0
        self.abandoned = False

    def write_lines(self, lines: list[bytes]) -> None:
        """Write JSON lines (without their newlines) in one call."""
        data = b"\n".join(lines) + b"\n"
        self._sha.update(data)
        self.bytes_written += len(data)
        self.file.write(data)

    def write(self, data: bytes) -> None:
        self._sha.update(data)
        self.bytes_written += len(data)
        self.file.write(data)

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
        out.file.close()
        if out.abandoned:
            out.tmp.unlink(missing_ok=True)
        else:
            os.replace(out.tmp, out.dest)
    except BaseException:
        out.file.close()
        out.tmp.unlink(missing_ok=True)
        raise
