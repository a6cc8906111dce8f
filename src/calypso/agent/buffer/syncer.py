"""Background fdatasync for ``fsync="interval"``.

Invariant: once :attr:`IntervalSyncer.dirty` is set (under the buffer's lock, after a write), the
active segment is fdatasync'ed within about one interval; a failed sync leaves it dirty for the
next round. The sync runs on a duplicate descriptor outside the lock, so appends are not held up.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

from calypso.agent.buffer.segment import datasync

log = logging.getLogger(__name__)


class IntervalSyncer:
    def __init__(self, lock: threading.RLock, interval: float, active_fd: Callable[[], int | None]) -> None:
        self.dirty = False
        self._lock = lock
        self._interval = interval
        self._active_fd = active_fd
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="calypso-buffer-fsync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (call without holding the lock); the caller syncs what is left."""
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
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
