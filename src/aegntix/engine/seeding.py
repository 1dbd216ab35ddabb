"""Where every random draw comes from: the branch seed, the step and the agent.

No wall clock, no global RNG: two branches with the same seed at the same step draw the
same numbers, which is what makes a fork without intervention reproduce its parent.
"""

from __future__ import annotations

import hashlib
import random
from functools import lru_cache


def derive_seed(*parts: int | str) -> int:
    """A 64-bit seed from any tuple of parts (stable across processes and platforms)."""
    digest = hashlib.blake2b(
        "\x1f".join(str(p) for p in parts).encode("utf-8"), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big") >> 1


@lru_cache(maxsize=64)
def _step_prefix(branch_seed: int, step: int) -> str:
    return f"{branch_seed}\x1f{step}\x1f"


def rng_for(branch_seed: int, step: int, stream: str) -> random.Random:
    """The RNG of one agent (``stream`` = agent id) or engine stream at one step."""
    if type(branch_seed) is int and type(step) is int and type(stream) is str:
        # derive_seed's bytes with the step's prefix joined once (this runs per decision)
        key = (_step_prefix(branch_seed, step) + stream).encode("utf-8")
        digest = hashlib.blake2b(key, digest_size=8).digest()
        return random.Random(int.from_bytes(digest, "big") >> 1)
    return random.Random(derive_seed(branch_seed, step, stream))


def rollout_seed(parent_seed: int, index: int) -> int:
    """The seed of the ``index``-th rollout forked from a branch with ``parent_seed``."""
    return derive_seed(parent_seed, "rollout", index)
