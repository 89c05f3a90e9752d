"""The stratified sample of a cross-check campaign, drawn with a recorded seed.

Seed 001 (五): a reviewing bureau checks a share of its neighbour's list in force, stratified by industry and
grade. The draw depends only on the enterprises (their ids, industries and grades), the share and the seed, so
the same call gives the same sample: anyone can redo it from the campaign's record and compare.

Allocation: the sample size is the share of the list rounded half up (at least one enterprise when the list is not
empty); each stratum (industry, grade) gets its share rounded down, and the seats left go to the strata with the
largest remainders (ties: the larger stratum, then the stratum key). Within a stratum the enterprises are put
in id order and drawn with `random.Random(f"{seed}:{industry}:{grade}")`, so a change in one stratum never
moves the draw of another.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass


class SampleError(ValueError):
    """A share or seed the draw cannot use (worded for the user by the caller)."""


@dataclass(frozen=True)
class Candidate:
    enterprise_id: int
    industry: str
    grade: str | None  # None: not graded (a stratum of its own)


@dataclass(frozen=True)
class Stratum:
    industry: str
    grade: str
    size: int
    drawn: tuple[int, ...]


@dataclass(frozen=True)
class Sample:
    seed: int
    share: float
    population: int
    strata: tuple[Stratum, ...]

    @property
    def enterprise_ids(self) -> tuple[int, ...]:
        return tuple(sorted(i for s in self.strata for i in s.drawn))


UNGRADED = "-"


def sample_size(population: int, share: float) -> int:
    if population == 0:
        return 0
    return max(1, min(population, math.floor(population * share + 0.5)))


def draw(candidates: Iterable[Candidate], share: float, seed: int) -> Sample:
    if not (0 < share <= 1):
        raise SampleError("share")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise SampleError("seed")
    groups: dict[tuple[str, str], list[int]] = {}
    seen: set[int] = set()
    for c in candidates:
        if c.enterprise_id in seen:
            continue
        seen.add(c.enterprise_id)
        groups.setdefault((c.industry, c.grade or UNGRADED), []).append(c.enterprise_id)
    population = len(seen)
    total = sample_size(population, share)
    keys = sorted(groups)
    seats = {k: math.floor(len(groups[k]) * share) for k in keys}
    left = total - sum(seats.values())
    by_remainder = sorted(keys, key=lambda k: (-(len(groups[k]) * share - seats[k]), -len(groups[k]), k))
    for k in by_remainder:
        if left <= 0:
            break
        if seats[k] < len(groups[k]):
            seats[k] += 1
            left -= 1
    strata = []
    for k in keys:
        ids = sorted(groups[k])
        rng = random.Random(f"{seed}:{k[0]}:{k[1]}")
        drawn = tuple(sorted(rng.sample(ids, seats[k]))) if seats[k] else ()
        strata.append(Stratum(industry=k[0], grade=k[1], size=len(ids), drawn=drawn))
    return Sample(seed=seed, share=share, population=population, strata=tuple(strata))
