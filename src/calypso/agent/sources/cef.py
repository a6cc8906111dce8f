"""CEF (ArcSight Common Event Format) parser and its mapping to the `CommonSecurityLog` table.

`CEF:Version|Device Vendor|Device Product|Device Version|Signature ID|Name|Severity|Extension`

Invariants:
- `parse` never raises on any str input: a text that is not a CEF record (fewer than seven header
  fields) yields None; everything else yields an `Event`;
- header fields honour the escapes `\\|` and `\\\\`; extension values honour `\\=`, `\\\\`, `\\n`, `\\r`
  (any other backslash is kept literally); a key is a run of `[A-Za-z0-9_.,[]-]` that starts the
  extension or follows whitespace and is followed by `=`; values are trimmed of surrounding whitespace;
- `to_record` fills only `CommonSecurityLog` columns: keys with a documented column (short or full
  ArcSight name) go there, converted to the column's Kusto type; every other key, and any value that
  does not convert (a port that is not a number), goes to `AdditionalExtensions` as `key=value` pairs
  joined by `;`, in message order. Text before the first key is kept there under no key. An empty
  value leaves a numeric or time column null; times may carry a zone (`GMT`, `CET`, `+0100`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, NamedTuple

from calypso.agent.sources.base import iso
from calypso.wire.schemas import standard_tables

TABLE = "CommonSecurityLog"


class Event(NamedTuple):
    version: str
    vendor: str
    product: str
    device_version: str
    signature_id: str
    name: str
    severity: str
    extensions: list[tuple[str, str]]
    leading: str  # extension text before the first key=value, normally empty


# Microsoft's documented CEF key -> CommonSecurityLog column mapping (short keys).
_SHORT: dict[str, str] = {
    "act": "DeviceAction",
    "app": "ApplicationProtocol",
    "cat": "DeviceEventCategory",
    "cnt": "EventCount",
    "destinationDnsDomain": "DestinationDnsDomain",
    "destinationServiceName": "DestinationServiceName",
    "destinationTranslatedAddress": "DestinationTranslatedAddress",
    "destinationTranslatedPort": "DestinationTranslatedPort",
    "deviceDirection": "CommunicationDirection",
    "deviceDnsDomain": "DeviceDnsDomain",
    "deviceExternalId": "DeviceExternalID",
    "deviceFacility": "DeviceFacility",
    "deviceInboundInterface": "DeviceInboundInterface",
    "deviceNtDomain": "DeviceNtDomain",
    "deviceOutboundInterface": "DeviceOutboundInterface",
    "devicePayloadId": "DevicePayloadId",
    "deviceProcessName": "ProcessName",
    "deviceTranslatedAddress": "DeviceTranslatedAddress",
    "dhost": "DestinationHostName",
    "dmac": "DestinationMACAddress",
    "dntdom": "DestinationNTDomain",
    "dpid": "DestinationProcessId",
    "dpriv": "DestinationUserPrivileges",
    "dproc": "DestinationProcessName",
    "dpt": "DestinationPort",
    "dst": "DestinationIP",
    "dtz": "DeviceTimeZone",
    "duid": "DestinationUserID",
    "duser": "DestinationUserName",
    "dvc": "DeviceAddress",
    "dvchost": "DeviceName",
    "dvcmac": "DeviceMacAddress",
    "dvcpid": "ProcessID",
    "end": "EndTime",
    "externalId": "ExternalID",
    "fileCreateTime": "FileCreateTime",
    "fileHash": "FileHash",
    "fileId": "FileID",
    "fileModificationTime": "FileModificationTime",
    "filePath": "FilePath",
    "filePermission": "FilePermission",
    "fileType": "FileType",
    "flexDate1": "FlexDate1",
    "flexDate1Label": "FlexDate1Label",
    "flexNumber1": "FlexNumber1",
    "flexNumber1Label": "FlexNumber1Label",
    "flexNumber2": "FlexNumber2",
    "flexNumber2Label": "FlexNumber2Label",
    "flexString1": "FlexString1",
    "flexString1Label": "FlexString1Label",
    "flexString2": "FlexString2",
    "flexString2Label": "FlexString2Label",
    "fname": "FileName",
    "fsize": "FileSize",
    "in": "ReceivedBytes",
    "msg": "Message",
    "oldFileCreateTime": "OldFileCreateTime",
    "oldFileHash": "OldFileHash",
    "oldFileId": "OldFileID",
    "oldFileModificationTime": "OldFileModificationTime",
    "oldFileName": "OldFileName",
    "oldFilePath": "OldFilePath",
    "oldFilePermission": "OldFilePermission",
    "oldFileSize": "OldFileSize",
    "oldFileType": "OldFileType",
    "out": "SentBytes",
    "outcome": "EventOutcome",
    "proto": "Protocol",
    "reason": "Reason",
    "request": "RequestURL",
    "requestClientApplication": "RequestClientApplication",
    "requestContext": "RequestContext",
    "requestCookies": "RequestCookies",
    "requestMethod": "RequestMethod",
    "rt": "ReceiptTime",
    "shost": "SourceHostName",
    "smac": "SourceMACAddress",
    "sntdom": "SourceNTDomain",
    "sourceDnsDomain": "SourceDnsDomain",
    "sourceServiceName": "SourceServiceName",
    "sourceTranslatedAddress": "SourceTranslatedAddress",
    "sourceTranslatedPort": "SourceTranslatedPort",
    "spid": "SourceProcessId",
    "spriv": "SourceUserPrivileges",
    "sproc": "SourceProcessName",
    "spt": "SourcePort",
    "src": "SourceIP",
    "start": "StartTime",
    "suid": "SourceUserID",
    "suser": "SourceUserName",
    "type": "EventType",
}
for _i in range(1, 7):
    _SHORT[f"cs{_i}"] = f"DeviceCustomString{_i}"
    _SHORT[f"cs{_i}Label"] = f"DeviceCustomString{_i}Label"
for _i in range(1, 4):
    _SHORT[f"cn{_i}"] = f"DeviceCustomNumber{_i}"
    _SHORT[f"cn{_i}Label"] = f"DeviceCustomNumber{_i}Label"
for _i in range(1, 5):
    _SHORT[f"cfp{_i}"] = f"DeviceCustomFloatingPoint{_i}"
    _SHORT[f"cfp{_i}Label"] = f"DeviceCustomFloatingPoint{_i}Label"
    _SHORT[f"c6a{_i}"] = f"DeviceCustomIPv6Address{_i}"
    _SHORT[f"c6a{_i}Label"] = f"DeviceCustomIPv6Address{_i}Label"
for _i in range(1, 3):
    _SHORT[f"deviceCustomDate{_i}"] = f"DeviceCustomDate{_i}"
    _SHORT[f"deviceCustomDate{_i}Label"] = f"DeviceCustomDate{_i}Label"

# ArcSight full-length names of the short keys above (CEF spec "Extension Dictionary").
_FULL_TO_SHORT: dict[str, str] = {
    "deviceAction": "act",
    "applicationProtocol": "app",
    "deviceEventCategory": "cat",
    "baseEventCount": "cnt",
    "destinationHostName": "dhost",
    "destinationMacAddress": "dmac",
    "destinationNtDomain": "dntdom",
    "destinationProcessId": "dpid",
    "destinationUserPrivileges": "dpriv",
    "destinationProcessName": "dproc",
    "destinationPort": "dpt",
    "destinationAddress": "dst",
    "deviceTimeZone": "dtz",
    "destinationUserId": "duid",
    "destinationUserName": "duser",
    "deviceAddress": "dvc",
    "deviceHostName": "dvchost",
    "deviceMacAddress": "dvcmac",
    "deviceProcessId": "dvcpid",
    "endTime": "end",
    "fileName": "fname",
    "fileSize": "fsize",
    "bytesIn": "in",
    "message": "msg",
    "bytesOut": "out",
    "eventOutcome": "outcome",
    "transportProtocol": "proto",
    "requestUrl": "request",
    "deviceReceiptTime": "rt",
    "sourceHostName": "shost",
    "sourceMacAddress": "smac",
    "sourceNtDomain": "sntdom",
    "sourceProcessId": "spid",
    "sourceUserPrivileges": "spriv",
    "sourceProcessName": "sproc",
    "sourcePort": "spt",
    "sourceAddress": "src",
    "startTime": "start",
    "sourceUserId": "suid",
    "sourceUserName": "suser",
}
for _i in range(1, 7):
    _FULL_TO_SHORT[f"deviceCustomString{_i}"] = f"cs{_i}"
    _FULL_TO_SHORT[f"deviceCustomString{_i}Label"] = f"cs{_i}Label"
for _i in range(1, 4):
    _FULL_TO_SHORT[f"deviceCustomNumber{_i}"] = f"cn{_i}"
    _FULL_TO_SHORT[f"deviceCustomNumber{_i}Label"] = f"cn{_i}Label"
for _i in range(1, 5):
    _FULL_TO_SHORT[f"deviceCustomFloatingPoint{_i}"] = f"cfp{_i}"
    _FULL_TO_SHORT[f"deviceCustomFloatingPoint{_i}Label"] = f"cfp{_i}Label"
    _FULL_TO_SHORT[f"deviceCustomIPv6Address{_i}"] = f"c6a{_i}"
    _FULL_TO_SHORT[f"deviceCustomIPv6Address{_i}Label"] = f"c6a{_i}Label"

KEY_TO_COLUMN: dict[str, str] = {**_SHORT, **{full: _SHORT[short] for full, short in _FULL_TO_SHORT.items()}}

# Time-zone names devices write after a time (CEF `MMM dd HH:mm:ss zzz`, Cisco `show-timezone`) -> UTC
# offset in minutes. Names with several common meanings (IST, BST) are left out: the caller's zone is used.
ZONE_OFFSETS: dict[str, int] = {
    "UTC": 0, "GMT": 0, "UT": 0, "Z": 0, "WET": 0, "WEST": 60, "CET": 60, "CEST": 120, "MET": 60,
    "MEST": 120, "EET": 120, "EEST": 180, "MSK": 180, "EST": -300, "EDT": -240, "CST": -360, "CDT": -300,
    "MST": -420, "MDT": -360, "PST": -480, "PDT": -420, "AKST": -540, "AKDT": -480, "HST": -600, "JST": 540,
    "KST": 540, "HKT": 480, "SGT": 480, "AWST": 480, "ACST": 570, "AEST": 600, "AEDT": 660, "NZST": 720,
    "NZDT": 780,
}  # fmt: skip
_ZONE = re.compile(r"([A-Za-z]{1,5})?(?:([+-])(\d{1,2})(?::?(\d{2}))?)?")


def zone_offset(name: str) -> timedelta | None:
    """UTC offset of a zone written as `UTC`, `CET`, `+0100`, `-05:00`, `GMT+01:00`; None if unknown."""
    m = _ZONE.fullmatch(name)
    if m is None or not name:
        return None
    letters, sign, hours, minutes = m.groups()
    base = 0
    if letters is not None:
        known = ZONE_OFFSETS.get(letters.upper())
        if known is None or (sign and known != 0):
            return None
        base = known
    if sign:
        offset = int(hours) * 60 + int(minutes or 0)
        if offset >= 24 * 60:
            return None
        base += -offset if sign == "-" else offset
    return timedelta(minutes=base)


_COLUMN_TYPES: dict[str, str] = dict(standard_tables()[TABLE])
_INT32 = (-(2**31), 2**31 - 1)
_KEY = re.compile(r"(?:^|(?<=\s))([A-Za-z0-9_.,\[\]-]+)=")
_EXT_ESCAPE = re.compile(r"\\([\\=nr])")
_EXT_UNESCAPE = {"\\": "\\", "=": "=", "n": "\n", "r": "\r"}
_CEF_TIME_FORMATS = ("%b %d %Y %H:%M:%S.%f", "%b %d %Y %H:%M:%S", "%b %d %H:%M:%S.%f", "%b %d %H:%M:%S")


def _split_header(text: str) -> list[str] | None:
    """The 7 header fields (unescaped) and the extension text, or None if there are not enough pipes."""
    fields: list[str] = []
    buf: list[str] = []
    i, n = 0, len(text)
    while i < n and len(fields) < 7:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in "|\\":
            buf.append(text[i + 1])
            i += 2
            continue
        if c == "|":
            fields.append("".join(buf))
            buf = []
        else:
            buf.append(c)
        i += 1
    if len(fields) == 7:
        fields.append(text[i:])
        return fields
    if len(fields) == 6:  # a record without extension and without the trailing pipe
        fields.append("".join(buf))
        fields.append("")
        return fields
    return None


def _unescape_value(value: str) -> str:
    if "\\" not in value:
        return value
    return _EXT_ESCAPE.sub(lambda m: _EXT_UNESCAPE[m.group(1)], value)


def parse_extension(text: str) -> tuple[list[tuple[str, str]], str]:
    """(ordered key/value pairs, text before the first key) of a CEF extension."""
    matches = list(_KEY.finditer(text))
    if not matches:
        return [], text.strip()
    pairs: list[tuple[str, str]] = []
    for k, m in enumerate(matches):
        end = matches[k + 1].start() if k + 1 < len(matches) else len(text)
        pairs.append((m.group(1), _unescape_value(text[m.end() : end].strip())))
    return pairs, text[: matches[0].start()].strip()


def parse(text: str) -> Event | None:
    """Parse a CEF record starting at `CEF:`; None if it is not one."""
    if not text.startswith("CEF:"):
        return None
    if "\\" not in text:
        parts = text[4:].split("|", 7)
        if len(parts) == 7:
            parts.append("")
        fields: list[str] | None = parts if len(parts) == 8 else None
    else:
        fields = _split_header(text[4:])
    if fields is None:
        return None
    ext, leading = parse_extension(fields[7])
    v, vendor, product, version, sig, name, severity = fields[:7]
    return Event(v.strip(), vendor, product, version, sig, name, severity, ext, leading)


def _strptime(value: str) -> datetime | None:
    for fmt in _CEF_TIME_FORMATS:
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    return None


def _to_datetime(value: str) -> str | None:
    """A CEF time (epoch milliseconds, `MMM dd [yyyy] HH:mm:ss[.SSS] [zone]`, or ISO 8601) in wire form."""
    if value.isdigit():  # milliseconds since the epoch
        try:
            return iso(datetime.fromtimestamp(int(value) / 1000, UTC))
        except (OverflowError, OSError, ValueError):
            return None
    dt = _strptime(value)
    if dt is None:
        head, _, zone = value.rpartition(" ")
        offset = zone_offset(zone) if head else None
        if offset is not None:
            dt = _strptime(head)
            if dt is not None:
                dt = dt.replace(tzinfo=timezone(offset))
    if dt is not None:
        if dt.year == 1900:
            dt = dt.replace(year=datetime.now(UTC).year)
        return iso(dt)
    try:
        return iso(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except (ValueError, OverflowError):
        return None


def _convert(column: str, value: str) -> Any:
    """The value in the column's Kusto type, or None when it does not convert."""
    kind = _COLUMN_TYPES.get(column, "string")
    if kind == "string":
        return value
    try:
        if kind == "int":
            number = int(value)
            return number if _INT32[0] <= number <= _INT32[1] else None
        if kind == "long":
            return int(value)
        if kind == "real":
            return float(value)
    except ValueError:
        return None
    if kind == "datetime":
        return _to_datetime(value)
    return value


def to_record(event: Event) -> dict[str, Any]:
    """The CommonSecurityLog columns of one CEF event (Computer and the times are the caller's)."""
    record: dict[str, Any] = {
        "DeviceVendor": event.vendor,
        "DeviceProduct": event.product,
        "DeviceVersion": event.device_version,
        "DeviceEventClassID": event.signature_id,
        "Activity": event.name,
        "LogSeverity": event.severity,
    }
    extra: list[str] = [event.leading] if event.leading else []
    for key, value in event.extensions:
        column = KEY_TO_COLUMN.get(key)
        if column is None:
            extra.append(f"{key}={value}")
            continue
        converted = _convert(column, value)
        if converted is not None:
            record[column] = converted
        elif value:  # an empty value leaves a numeric or time column null
            extra.append(f"{key}={value}")
    if extra:
        record["AdditionalExtensions"] = ";".join(extra)
    return record
