"""File downloads: pre-signed file URLs (from ``get_files`` or a webhook) to disk.

Streamed in chunks written off the event loop, never held whole in memory; a path is
written to a temporary file beside it and renamed at the end. Downloads share the
client's pool and concurrency slots but not its rate limit or cooldown: the file host
is not iDenfy's API (no Authorization header goes there).
"""

from __future__ import annotations

import asyncio
import os
import re
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Final

import httpx

from .._constants import DOWNLOAD_CHUNK_SIZE
from .._wire.common import RequestSpec, shown_path
from .._wire.results import check_download_url, download_error
from .attempt import WireErrors, check_framing
from .calllog import CallLog, running
from .retry import CallKind, OnRetry, RetryPolicy, retry_call
from .sender import USER_AGENT, Sender

__all__ = ["DOWNLOAD_CHUNK_SIZE", "download_file", "download_files"]

_SAFE_FILE_NAME: Final = re.compile(r"[^A-Za-z0-9_.-]")
_FILE_SUFFIX: Final = re.compile(r"\.[A-Za-z0-9]{1,8}")


async def download_file(
    sender: Sender,
    url: str,
    destination: str | os.PathLike[str] | BinaryIO,
    *,
    chunk_size: int,
    policy: RetryPolicy,
    timeout: Any,
    max_retries: int,
    deadline: float | None,
    on_retry: OnRetry | None,
    check_open: Callable[[], None],
) -> int:
    """See [`AsyncIdenfy.download_file`][idenfy_async.AsyncIdenfy.download_file] (``url`` already
    checked; ``timeout``: a value for httpx's ``timeout=``)."""
    # Errors name the path only: the query is the URL's signature.
    spec = RequestSpec("GET", urllib.parse.urlsplit(url).path or "/", b"")
    # The file host's rate-limit answers must not pause calls to iDenfy: retry_call
    # sleeps their backoff (or Retry-After) for this download alone.
    started = policy.clock()
    tries = 0
    log = CallLog("download_file")  # the URL's scanRef is not ours to parse

    async def stream_to(file: BinaryIO) -> int:
        nonlocal tries
        tries += 1
        log.attempt = tries
        async with sender.admission.limiter:
            check_open()  # per attempt: the client may close while a retry waits
            with WireErrors("download_file", spec, tries, policy.clock, started) as seen:
                request = sender.http.build_request(
                    "GET", url, headers={"User-Agent": USER_AGENT, "Accept": "*/*"}, timeout=timeout
                )
                # Never our credentials to another host, even from a caller's http_client
                # defaults: S3 also refuses a pre-signed request that carries them.
                request.headers.pop("Authorization", None)
                return await _stream(sender, request, file, spec, chunk_size, policy, seen)

    attempt: Callable[[], Awaitable[int]]
    if isinstance(destination, str | os.PathLike):
        attempt = _to_path(Path(destination), stream_to)
    else:
        start = await asyncio.to_thread(_position, destination)
        if start is None:
            max_retries = 0  # what was written cannot be taken back
        attempt = _to_file(destination, start, stream_to)

    calling = retry_call(
        attempt,
        operation="download_file",
        kind=CallKind.READ,
        policy=policy,
        max_retries=max_retries,
        deadline=deadline,
        retry_unknown=False,
        on_retry=on_retry,
    )
    written: int = await running(log, calling)  # its records carry log's fields
    return written


async def _stream(
    sender: Sender,
    request: httpx.Request,
    file: BinaryIO,
    spec: RequestSpec,
    chunk_size: int,
    policy: RetryPolicy,
    seen: WireErrors,
) -> int:
    # No whole-attempt bound here: a file's size is unknown, so ``timeout`` keeps
    # httpx's meaning (each phase, each read).
    written = 0
    response = await sender.http.send(request, stream=True, auth=None)
    seen.status, seen.headers = response.status_code, response.headers
    try:
        check_framing(response.headers)
        if not 200 <= response.status_code < 300:
            raise download_error(
                response.status_code,
                response.headers,
                path=shown_path(spec),
                now=policy.wall_clock(),
            )
        async for chunk in response.aiter_bytes(chunk_size):
            await asyncio.to_thread(file.write, chunk)
            written += len(chunk)
    finally:
        await response.aclose()
    return written


def _to_path(
    target: Path, stream_to: Callable[[BinaryIO], Awaitable[int]]
) -> Callable[[], Awaitable[int]]:
    async def to_path() -> int:
        part = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.part")
        try:
            file = await asyncio.to_thread(part.open, "wb")
            try:
                written = await stream_to(file)
            finally:
                await asyncio.to_thread(file.close)
            await asyncio.to_thread(os.replace, part, target)
        except BaseException:
            await asyncio.shield(asyncio.to_thread(part.unlink, missing_ok=True))
            raise
        return written

    return to_path


def _to_file(
    file: BinaryIO, start: int | None, stream_to: Callable[[BinaryIO], Awaitable[int]]
) -> Callable[[], Awaitable[int]]:
    attempts = 0

    async def to_file() -> int:
        nonlocal attempts
        attempts += 1
        if attempts > 1 and start is not None:
            await asyncio.to_thread(_rewind, file, start)
        return await stream_to(file)

    return to_file


async def download_files(
    download: Callable[[str, Path], Awaitable[int]],
    file_urls: Mapping[str, str | None],
    directory: str | os.PathLike[str],
    *,
    check: Callable[[Any], str] = check_download_url,
) -> dict[str, Path]:
    """See [`AsyncIdenfy.download_files`][idenfy_async.AsyncIdenfy.download_files];
    ``download(url, path)`` fetches one file, ``check(url)`` returns a URL that may be fetched or
    raises (every URL, before any)."""
    folder = Path(directory)
    plan: dict[str, tuple[str, Path]] = {}
    used: set[str] = set()
    for name, url in file_urls.items():
        if url is None:
            continue
        file_name = _file_name(name, check(url), used)
        used.add(file_name.lower())
        plan[name] = (url, folder / file_name)
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    tasks = [asyncio.ensure_future(download(url, path)) for url, path in plan.values()]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return {name: path for name, (_, path) in plan.items()}


def _position(file: BinaryIO) -> int | None:
    # Where writing starts, when the file can go back there for a retry.
    try:
        return file.tell() if file.seekable() else None
    except (AttributeError, OSError, ValueError):
        return None


def _rewind(file: BinaryIO, position: int) -> None:
    file.seek(position)
    file.truncate()


def _file_name(name: str, url: str, used: set[str]) -> str:
    stem = _SAFE_FILE_NAME.sub("_", name).strip(".") or "file"
    suffix = PurePosixPath(urllib.parse.urlsplit(url).path).suffix
    suffix = suffix if _FILE_SUFFIX.fullmatch(suffix) else ""
    candidate, number = stem + suffix, 1
    while candidate.lower() in used:
        number += 1
        candidate = f"{stem}_{number}{suffix}"
    return candidate
