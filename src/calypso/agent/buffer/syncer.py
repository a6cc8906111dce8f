"""Background fdatasync for ``fsync="interval"``.

Invariants: once :attr:`IntervalSyncer.dirty` is set (under the buffer's lock, after a write), the
active segment is fdatasync'ed within about one interval; a failed sync leaves it dirty for the
next round. Once :attr:`IntervalSyncer.new_files` is set, the directory (a new segment's entry) is
synced within about one interval. A sealed segment's descriptor handed over by
:meth:`IntervalSyncer.retire` is synced right away and then closed (before `stop` returns at the
latest). So sealing and rolling never wait for the disk on the appending thread; syncs run outside
the lock, so appends are not held up.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from calypso.agent.buffer.segment import datasync
from calypso.agent.buffer.state import fsync_dir

log = logging.getLogger(__name__)


class IntervalSyncer:
    def __init__(
        self, lock: threading.RLock, interval: float, active_fd: Callable[[], int | None], directory: Path
    ) -> None:
        self.dirty = False
        self.new_files = False  # a segment file was created since the directory was last synced
        self._directory = directory
        self._lock = lock
        self._interval = interval
        self._active_fd = active_fd
        self._retired: list[int] = []
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="calypso-buffer-fsync", daemon=True)
        self._thread.start()

    def retire(self, fd: int) -> None:
        """Take over a sealed segment's descriptor: sync it, then close it (call under the lock)."""
        self._retired.append(fd)
        self._wake.set()

    def stop(self) -> None:
        """Stop the thread (call without holding the lock) once retired segments are synced; the
        caller syncs the active one."""
        self._stop.set()
        self._wake.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            stopping = self._stop.is_set()
            with self._lock:
                retired, self._retired = self._retired, []
                new_files, self.new_files = self.new_files, False
            for sealed in retired:
                self._sync_and_close(sealed)
            if new_files:
                try:
                    fsync_dir(self._directory)
                except OSError as exc:
                    log.error("error=%r Buffer directory fsync failed, retrying next interval.", exc)
                    with self._lock:
                        self.new_files = True
            if stopping:
                return
            with self._lock:
                fd = self._active_fd() if self.dirty else None
                if fd is None:
                    continue
                fd = os.dup(fd)
                self.dirty = False
            try:
                datasync(fd)
            except OSError as exc:
                log.error("error=%r Buffer fsync failed, retrying next interval.", exc)
                with self._lock:
                    self.dirty = True
            finally:
                os.close(fd)

    @staticmethod
    def _sync_and_close(fd: int) -> None:
        try:
            datasync(fd)
        except OSError as exc:  # nothing to retry on: the segment is sealed and its data written
            log.error("error=%r Fsync of a sealed buffer segment failed.", exc)
        finally:
            os.close(fd)
