"""Fetching the rows of a query's `externaldata` tables, from URLs the operator allowed.

Invariant: nothing is fetched unless every URL of the query starts with one of the prefixes given
to `calypso workspace serve --externaldata-allow` (none by default: a query cannot make the server
reach the network); redirects are not followed (they could leave the allowed prefixes); a body is
read up to `externaldata_max_bytes` and no further. Every column is registered as strings: the
compiled SQL converts them to the declared types (see `calypso.kql.externaldata`).
"""

from __future__ import annotations

import csv
import fnmatch
import gzip
import io
import zipfile
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pyarrow as pa

from calypso.workspace.limits import Limits

DELIMITERS = {"csv": ",", "tsv": "\t", "tsve": "\t", "scsv": ";", "sohsv": "\x01", "psv": "|"}
JSON_FORMATS = ("json", "multijson", "singlejson")


class ExternalDataError(Exception):
    """A query's external data cannot be used; the message is shown to the user as is."""


def fetch_tables(externals: Sequence[Any], limits: Limits) -> dict[str, pa.Table]:
    """The Arrow table (string columns) to register for each of a compiled query's externals."""
    for ext in externals:  # all checked before anything is fetched
        for url in ext.urls:
            allowed(url, limits.externaldata_allow)
    if not externals:
        return {}
    verify: Any = limits.externaldata_ca or True
    tables: dict[str, pa.Table] = {}
    with httpx.Client(verify=verify, timeout=limits.externaldata_timeout, follow_redirects=False) as client:
        for ext in externals:
            names = [name for name, _ in ext.columns]
            columns: list[list[str | None]] = [[] for _ in names]
            for url in ext.urls:
                for row in _rows(_download(client, url, limits.externaldata_max_bytes), url, ext, names):
                    for values, value in zip(columns, row, strict=True):
                        values.append(value)
            tables[ext.table] = pa.table(
                {n: pa.array(v, pa.string()) for n, v in zip(names, columns, strict=True)}
            )
    return tables


def allowed(url: str, prefixes: Sequence[str]) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ExternalDataError(f"externaldata URL {url!r} is not an http(s) URL")
    if not any(url.startswith(p) for p in prefixes):
        raise ExternalDataError(
            f"externaldata from {_shown(url)} is not allowed on this workspace: the server's operator "
            "can allow it with `calypso workspace serve --externaldata-allow PREFIX`"
        )


def _shown(url: str) -> str:
    """The URL without its query string (a SAS token is a secret)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _download(client: httpx.Client, url: str, max_bytes: int) -> bytes:
    try:
        with client.stream("GET", url) as r:
            if r.status_code != 200:
                raise ExternalDataError(
                    f"externaldata from {_shown(url)}: the server answered {r.status_code}"
                )
            body = bytearray()
            for chunk in r.iter_bytes():  # decoded: the limit counts what is kept
                body += chunk
                if len(body) > max_bytes:
                    raise ExternalDataError(
                        f"externaldata from {_shown(url)} is larger than the workspace's limit "
                        f"of {max_bytes:,} bytes"
                    )
            return bytes(body)
    except httpx.HTTPError as e:
        raise ExternalDataError(f"externaldata from {_shown(url)} could not be fetched: {e}") from None


def _rows(body: bytes, url: str, ext: Any, names: list[str]) -> Iterator[list[str | None]]:
    fmt = ext.property("format", "csv").lower()
    path = urlsplit(url).path.lower()
    if path.endswith(".zip") or ext.property("zipPattern"):
        body = _unzip(body, ext.property("zipPattern", "*"), url)
    elif path.endswith(".gz"):
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError) as e:
            raise ExternalDataError(f"externaldata from {_shown(url)} is not valid gzip: {e}") from None
    text = body.decode("utf-8-sig", errors="replace")
    if fmt in JSON_FORMATS:
        yield from _json_rows(text, url, names)
        return
    if fmt == "txt":  # each line is the first column's value
        for line in text.splitlines():
            yield [line, *([None] * (len(names) - 1))]
        return
    delimiter = DELIMITERS.get(fmt)
    if delimiter is None:
        raise ExternalDataError(
            f"externaldata format {fmt!r} is not supported (use csv, tsv, json, txt, ...)"
        )
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    if ext.property("ignoreFirstRecord", "false").lower() == "true":
        next(reader, None)
    width = len(names)
    for fields in reader:
        if fields:
            yield [*fields[:width], *([None] * (width - len(fields)))]


def _unzip(body: bytes, pattern: str, url: str) -> bytes:
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as z:
            members = [m for m in z.namelist() if fnmatch.fnmatch(m, pattern) and not m.endswith("/")]
            return b"".join(z.read(m) for m in members)
    except (zipfile.BadZipFile, OSError) as e:
        raise ExternalDataError(f"externaldata from {_shown(url)} is not a valid zip file: {e}") from None


def _json_rows(text: str, url: str, names: list[str]) -> Iterator[list[str | None]]:
    """One JSON object per line, or one array of objects; values as text (objects as JSON)."""
    stripped = text.strip()
    try:
        records = (
            orjson.loads(stripped)
            if stripped.startswith("[")
            else [orjson.loads(line) for line in stripped.splitlines() if line.strip()]
        )
    except orjson.JSONDecodeError as e:
        raise ExternalDataError(f"externaldata from {_shown(url)} is not valid JSON: {e}") from None
    for record in records:
        if not isinstance(record, dict):
            raise ExternalDataError(f"externaldata from {_shown(url)}: each JSON record must be an object")
        yield [_as_text(record.get(name)) for name in names]


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value).decode()
