"""What the parts of `Extras` share: the emulator's world and an id source of their own."""

from __future__ import annotations

import hashlib
import typing as t

from ..data import World
from ..http import ApiError, bad_request, not_found

if t.TYPE_CHECKING:
    from ..server import Emulator

EXTRA_ID_BASE = 1_000_000_000
CREATED = "2024-03-01T09:00:00Z"


def stable_draw(*parts: object) -> int:
    """A stable pseudo-random number for a record part (independent of generation order)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class ExtrasBase:
    """Set by `Extras.__init__`: the emulator, its world, the seed and an id source."""

    emu: Emulator
    world: World
    seed: int
    nid: t.Callable[[], str]

    @staticmethod
    def _bad(text: str) -> ApiError:
        return bad_request(text)

    @staticmethod
    def _not_found() -> ApiError:
        return not_found()
