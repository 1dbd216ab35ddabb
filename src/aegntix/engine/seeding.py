"""Where every random draw comes from: the branch seed, the step and the agent.

No wall clock, no global RNG: two branches with the same seed at the same step draw the
same numbers, which is what makes a fork without intervention reproduce its parent.
"""

from __future__ import annotations

import hashlib
import random


def derive_seed(*parts: int | str) -> int:
    """A 64-bit seed from any tuple of parts (stable across processes and platforms)."""
    digest = hashlib.blake2b(
        "\x1f".join(str(p) for p in parts).encode("utf-8"), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big") >> 1


def rng_for(branch_seed: int, step: int, stream: str) -> random.Random:
    """The RNG of one agent (``stream`` = agent id) or engine stream at one step."""
    return random.Random(derive_seed(branch_seed, step, stream))


def rollout_seed(parent_seed: int, index: int) -> int:
    """The seed of the ``index``-th rollout forked from a branch with ``parent_seed``."""
    return derive_seed(parent_seed, "rollout", index)
