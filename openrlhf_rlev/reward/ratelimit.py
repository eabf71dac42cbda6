"""Warnings that cannot flood a log: the reward runs once per sample, and one bad dataset means millions."""

import logging
import threading
import time


class RateLimitedWarner:
    def __init__(self, logger: logging.Logger, per_seconds: float = 60.0):
        self.logger = logger
        self.per_seconds = per_seconds
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self._lock = threading.Lock()

    def warn(self, key: str, message: str) -> bool:
        """Log at most once per key per interval, with the count of what was suppressed since. True if logged."""
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.per_seconds:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return False
            self._last[key] = now
            suppressed = self._suppressed.pop(key, 0)
        more = f" ({suppressed} more like this suppressed)" if suppressed else ""
        self.logger.warning("%s%s", message, more)
        return True
