"""A thread-safe LRU cache for functions of one key, bounded by total key length as well as by entries.

`functools.lru_cache` bounds entries only: 65,536 cached golds of list answers 100,000 characters long could hold
gigabytes. What a gold's parse keeps is proportional to its text, so the text's length is the weight.
"""

import threading
from collections import OrderedDict, namedtuple
from functools import wraps

CacheInfo = namedtuple("CacheInfo", "hits misses maxsize entries chars max_chars")


_MISSING = object()


def bounded_cache(max_entries: int, max_chars: int, weight=len):
    """Cache `fn(text)` for at most `max_entries` texts of at most `max_chars` characters in total; a text longer
    than a tenth of the budget is computed every time rather than evicting everything else. `weight(key)`: the
    characters a key stands for (a tuple of strings: their total length)."""

    def decorate(fn):
        entries: OrderedDict = OrderedDict()
        lock = threading.Lock()
        state = {"chars": 0, "hits": 0, "misses": 0}

        @wraps(fn)
        def cached(text: str):
            # A hit takes no lock: a get and a move_to_end on the C OrderedDict are each atomic under the GIL, and an
            # entry another thread evicts in between is simply not moved (the counters are approximate under races).
            value = entries.get(text, _MISSING)
            if value is not _MISSING:
                state["hits"] += 1
                try:
                    entries.move_to_end(text)
                except KeyError:
                    pass
                return value
            with lock:
                state["misses"] += 1
            value = fn(text)
            size = weight(text)
            if size > max_chars // 10:
                return value
            with lock:
                if text not in entries:
                    entries[text] = value
                    state["chars"] += size
                    while len(entries) > max_entries or state["chars"] > max_chars:
                        old, _ = entries.popitem(last=False)
                        state["chars"] -= weight(old)
            return value

        def cache_info() -> CacheInfo:
            with lock:
                return CacheInfo(state["hits"], state["misses"], max_entries, len(entries), state["chars"], max_chars)

        def cache_clear() -> None:
            with lock:
                entries.clear()
                state.update(chars=0, hits=0, misses=0)

        cached.cache_info = cache_info
        cached.cache_clear = cache_clear
        return cached

    return decorate
