"""Reading the files a KYC call uploads (images, documents), off the event loop.

Bytes, a path or a binary file object; at most the call's size limit plus one byte is
read, so a huge file is refused without being loaded. A file that cannot be read, or
is too large, is a [`RequestValidationError`][idenfy_async.RequestValidationError] naming the wire
field (never the path, which may be personal, nor any content).
"""

from __future__ import annotations

import asyncio
import os
from typing import IO, Final

from ..errors import FieldProblem, RequestValidationError
from ..models import FileSource

__all__ = ["READ_CHUNK_SIZE", "read_file"]

#: Bytes read per chunk from a file (the loop never waits on a disk read).
READ_CHUNK_SIZE: Final = 1024 * 1024


async def read_file(source: FileSource, *, field: str, model: str, max_bytes: int) -> bytes:
    """The bytes of ``source`` (bytes, a path, or a binary file), read off the event loop.

    At most ``max_bytes + 1`` bytes are read, so a huge file is refused without
    being loaded.

    Raises:
        RequestValidationError: naming ``field``: the file cannot be read, or is
            larger than ``max_bytes`` (the message has the size rule, never content).
    """
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    else:
        try:
            data = await asyncio.to_thread(_read_bounded, source, max_bytes + 1)
        except (OSError, ValueError, TypeError) as exc:
            # The class only: an OSError's text names the path, which may be personal.
            rule = f"cannot be read ({type(exc).__name__})"
            raise RequestValidationError(model, [FieldProblem(field, rule)]) from None
    if len(data) > max_bytes:
        rule = f"must be at most {max_bytes:,} bytes of file"
        raise RequestValidationError(model, [FieldProblem(field, rule)])
    return data


def _read_bounded(source: str | os.PathLike[str] | IO[bytes], limit: int) -> bytes:
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as file:
            return _read_chunks(file, limit)
    return _read_chunks(source, limit)


def _read_chunks(file: IO[bytes], limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = file.read(min(READ_CHUNK_SIZE, limit - size))
        if not chunk:
            break
        if not isinstance(chunk, bytes | bytearray):
            raise TypeError("the file is not open in binary mode")
        chunks.append(bytes(chunk))
        size += len(chunk)
    return b"".join(chunks)
