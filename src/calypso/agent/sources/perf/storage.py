"""Logical Disk and Network objects, from /proc/mounts + statvfs, /proc/diskstats and /proc/net/dev.

Invariant: Logical Disk instances are the mount points of real file systems (pseudo file systems
such as proc, sysfs, tmpfs, cgroup are never instances) plus `_Total`, which counts each device once;
I/O rates come from the mount's block device in /proc/diskstats and are skipped (never negative) when
a counter resets. Network values are the kernel's running totals per interface (as the Linux agent
reports them), the loopback interface excluded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from calypso.agent.sources.perf.counters import PerfObject, Value, percent, rate
from calypso.agent.sources.perf.procfs import (
    DiskIO,
    FsUsage,
    NetIO,
    ProcFS,
    parse_diskstats,
    parse_mounts,
    parse_net_dev,
)

PSEUDO_FS = frozenset(
    [
        "proc",
        "sysfs",
        "devtmpfs",
        "devpts",
        "tmpfs",
        "cgroup",
        "cgroup2",
        "securityfs",
        "debugfs",
        "tracefs",
        "pstore",
        "bpf",
        "mqueue",
        "hugetlbfs",
        "configfs",
        "fusectl",
        "autofs",
        "binfmt_misc",
        "nsfs",
        "rpc_pipefs",
        "ramfs",
        "efivarfs",
        "selinuxfs",
        "squashfs",
        "fuse.lxcfs",
        "fuse.gvfsd-fuse",
        "rootfs",
    ]
)
SECTOR = 512
MIB = 1024 * 1024


@dataclass(frozen=True)
class Volume:
    mount_point: str
    device: str  # diskstats name ("vda", "dm-0"), "" when unknown
    usage: FsUsage


@dataclass(frozen=True)
class DiskSnapshot:
    volumes: tuple[Volume, ...]
    io: dict[str, DiskIO]


def _dm_names(fs: ProcFS) -> dict[str, str]:
    """Device-mapper name -> kernel name (`/dev/mapper/vg-root` is `dm-0` in diskstats)."""
    out: dict[str, str] = {}
    try:
        entries = os.listdir(fs.sys_root / "block")
    except OSError:
        return out
    for dev in entries:
        name = fs.read_sys(f"block/{dev}/dm/name").strip()
        if name:
            out[name] = dev
    return out


def _device_name(device: str, dm: dict[str, str]) -> str:
    if device.startswith("/dev/mapper/"):
        return dm.get(device.removeprefix("/dev/mapper/"), "")
    return device.removeprefix("/dev/") if device.startswith("/dev/") else ""


def _read_disks(fs: ProcFS) -> DiskSnapshot:
    dm = _dm_names(fs)
    seen: dict[str, Volume] = {}
    for m in parse_mounts(fs.read("mounts")).value:
        if m.fstype in PSEUDO_FS or m.mount_point in seen:
            continue
        try:
            usage = fs.statvfs(m.mount_point)
        except OSError:
            fs.errors["statvfs"] = fs.errors.get("statvfs", 0) + 1
            continue
        if usage.f_blocks <= 0:
            continue
        seen[m.mount_point] = Volume(m.mount_point, _device_name(m.device, dm), usage)
    return DiskSnapshot(tuple(seen.values()), parse_diskstats(fs.read("diskstats")).value)


def _space(
    inst: str, frsize: int, blocks: int, bfree: int, bavail: int, files: int, ffree: int
) -> list[Value]:
    out: list[Value] = []
    free_pct = percent(bavail, blocks - bfree + bavail)  # df's definition: reserved blocks are not "free"
    if free_pct is not None:
        out += [(inst, "% Free Space", free_pct), (inst, "% Used Space", 100.0 - free_pct)]
    out.append((inst, "Free Megabytes", bavail * frsize / MIB))
    inode_pct = percent(ffree, files)
    if inode_pct is not None:
        out += [(inst, "% Free Inodes", inode_pct), (inst, "% Used Inodes", 100.0 - inode_pct)]
    return out


def _io(inst: str, prev: DiskIO, cur: DiskIO, seconds: float) -> list[Value]:
    r = rate(prev.reads, cur.reads, seconds)
    w = rate(prev.writes, cur.writes, seconds)
    rb = rate(prev.sectors_read, cur.sectors_read, seconds)
    wb = rate(prev.sectors_written, cur.sectors_written, seconds)
    if r is None or w is None or rb is None or wb is None:
        return []
    rb, wb = rb * SECTOR, wb * SECTOR
    return [
        (inst, "Disk Reads/sec", r),
        (inst, "Disk Writes/sec", w),
        (inst, "Disk Transfers/sec", r + w),
        (inst, "Disk Read Bytes/sec", rb),
        (inst, "Disk Write Bytes/sec", wb),
        (inst, "Disk Bytes/sec", rb + wb),
        (inst, "Logical Disk Bytes/sec", rb + wb),
    ]


def _compute_disks(prev: DiskSnapshot | None, cur: DiskSnapshot, seconds: float) -> list[Value]:
    out: list[Value] = []
    for v in cur.volumes:
        u = v.usage
        out += _space(v.mount_point, u.f_frsize, u.f_blocks, u.f_bfree, u.f_bavail, u.f_files, u.f_ffree)
        if prev is not None and v.device in cur.io and v.device in prev.io:
            out += _io(v.mount_point, prev.io[v.device], cur.io[v.device], seconds)
    if not cur.volumes:
        return out
    # _Total: each device once (a device mounted twice, e.g. bind mounts, is not counted twice).
    unique: dict[str, Volume] = {}
    for v in cur.volumes:
        unique.setdefault(v.device or v.mount_point, v)
    vols = list(unique.values())
    out += _space(
        "_Total",
        1,  # summed in bytes: a block size of 1
        sum(v.usage.f_blocks * v.usage.f_frsize for v in vols),
        sum(v.usage.f_bfree * v.usage.f_frsize for v in vols),
        sum(v.usage.f_bavail * v.usage.f_frsize for v in vols),
        sum(v.usage.f_files for v in vols),
        sum(v.usage.f_ffree for v in vols),
    )
    if prev is not None:
        # Sum the per-device rates that are valid: one device's counter reset must not hide the rest.
        totals: dict[str, float] = {}
        for v in vols:
            if v.device in cur.io and v.device in prev.io:
                for _, counter, value in _io("", prev.io[v.device], cur.io[v.device], seconds):
                    totals[counter] = totals.get(counter, 0.0) + value
        out += [("_Total", counter, value) for counter, value in totals.items()]
    return out


LOGICAL_DISK = PerfObject(
    "Logical Disk",
    (
        "% Free Space",
        "% Used Space",
        "Free Megabytes",
        "% Free Inodes",
        "% Used Inodes",
        "Disk Reads/sec",
        "Disk Writes/sec",
        "Disk Transfers/sec",
        "Disk Read Bytes/sec",
        "Disk Write Bytes/sec",
        "Disk Bytes/sec",
        "Logical Disk Bytes/sec",
    ),
    _read_disks,
    _compute_disks,
)


def _read_net(fs: ProcFS) -> dict[str, NetIO]:
    return parse_net_dev(fs.read("net/dev")).value


def _compute_net(prev: dict[str, NetIO] | None, cur: dict[str, NetIO], seconds: float) -> list[Value]:
    out: list[Value] = []
    for name in sorted(cur):
        if name == "lo":
            continue
        n = cur[name]
        out += [
            (name, "Total Bytes Transmitted", float(n.tx_bytes)),
            (name, "Total Bytes Received", float(n.rx_bytes)),
            (name, "Total Bytes", float(n.tx_bytes + n.rx_bytes)),
            (name, "Total Packets Transmitted", float(n.tx_packets)),
            (name, "Total Packets Received", float(n.rx_packets)),
            (name, "Total Rx Errors", float(n.rx_errors)),
            (name, "Total Tx Errors", float(n.tx_errors)),
            (name, "Total Collisions", float(n.collisions)),
        ]
    return out


NETWORK = PerfObject(
    "Network",
    (
        "Total Bytes Transmitted",
        "Total Bytes Received",
        "Total Bytes",
        "Total Packets Transmitted",
        "Total Packets Received",
        "Total Rx Errors",
        "Total Tx Errors",
        "Total Collisions",
    ),
    _read_net,
    _compute_net,
)
