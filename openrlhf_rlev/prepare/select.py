"""--sample and --limit: which valid questions are written."""

import random
from collections import defaultdict

from openrlhf_rlev.prepare.records import Item


def stratified_sample(items: list[Item], n: int, seed: int) -> list[Item]:
    """n questions spread over (datasource, value) strata: one from each stratum in turn (strata and their members
    in a seeded random order), so a small sample still mixes sources and point values. Input order is kept."""
    if n >= len(items):
        return list(items)
    rng = random.Random(seed)
    strata: dict[tuple, list[int]] = defaultdict(list)
    for i, it in enumerate(items):
        strata[(it.datasource, round(it.value, 9))].append(i)
    queues = [strata[k] for k in sorted(strata)]
    rng.shuffle(queues)
    for q in queues:
        rng.shuffle(q)
    chosen: list[int] = []
    depth = 0
    while len(chosen) < n:
        for q in queues:
            if depth < len(q):
                chosen.append(q[depth])
                if len(chosen) == n:
                    break
        depth += 1
    return [items[i] for i in sorted(chosen)]


def limit(items: list[Item], n: int | None) -> list[Item]:
    return list(items) if n is None else list(items[:n])
