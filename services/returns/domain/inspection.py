"""What happened to the units that came back: received, then inspected line by line. Units waiting for
processing hold the refund back until a later inspection settles them; nothing beyond what was authorised
can be received or inspected."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

RESTOCK, WRITE_OFF, PENDING = "restock", "write_off", "needs_processing"
DISPOSITIONS = (RESTOCK, WRITE_OFF, PENDING)
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

Dispositions = dict[str, dict[str, int]]
"""line id -> disposition -> units"""


class InspectionError(ValueError):
    """A scan that does not fit the return (the event is dead-lettered with this sentence)."""


@dataclass(frozen=True, slots=True)
class Inspected:
    line_id: str
    quantity: int
    disposition: str


def rma_number(bits: int) -> str:
    """`RMA-` and 12 Crockford base-32 characters of 60 random bits: short enough to read out on the phone,
    too many to guess someone else's."""
    chars = []
    for _ in range(12):
        chars.append(CROCKFORD[bits & 31])
        bits >>= 5
    return "RMA-" + "".join(reversed(chars))


def receive(authorised: Mapping[str, int], received: Mapping[str, int],
            lines: Sequence[tuple[str, int]]) -> dict[str, int]:
    """Units received so far, per line, after this scan."""
    after = dict(received)
    for line_id, quantity in lines:
        if line_id not in authorised:
            raise InspectionError(f"line {line_id!r} is not part of this return")
        after[line_id] = after.get(line_id, 0) + quantity
        if after[line_id] > authorised[line_id]:
            raise InspectionError(f"line {line_id!r}: {after[line_id]} units received in all, "
                                  f"only {authorised[line_id]} were authorised")
    return after


def inspect(authorised: Mapping[str, int], dispositions: Mapping[str, Mapping[str, int]],
            lines: Sequence[Inspected]) -> Dispositions:
    """Dispositions after this inspection. A restock or write-off first settles units of the same line that
    were waiting for processing; only the rest are newly inspected units."""
    after: Dispositions = {line_id: dict(counts) for line_id, counts in dispositions.items()}
    for item in lines:
        if item.line_id not in authorised:
            raise InspectionError(f"line {item.line_id!r} is not part of this return")
        if item.disposition not in DISPOSITIONS:
            raise InspectionError(f"line {item.line_id!r}: unknown disposition {item.disposition!r}")
        counts = after.setdefault(item.line_id, dict.fromkeys(DISPOSITIONS, 0))
        if item.disposition != PENDING:
            counts[PENDING] -= min(counts[PENDING], item.quantity)
        counts[item.disposition] += item.quantity
        if sum(counts.values()) > authorised[item.line_id]:
            raise InspectionError(f"line {item.line_id!r}: {sum(counts.values())} units inspected in all, "
                                  f"only {authorised[item.line_id]} were authorised")
    return after


def waiting(dispositions: Mapping[str, Mapping[str, int]]) -> int:
    return sum(counts.get(PENDING, 0) for counts in dispositions.values())


def settled(dispositions: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    """Units with a final disposition, per line: restocked or written off, both refunded."""
    return {line_id: n for line_id, counts in dispositions.items()
            if (n := counts.get(RESTOCK, 0) + counts.get(WRITE_OFF, 0))}


def ready_to_refund(received: Mapping[str, int], dispositions: Mapping[str, Mapping[str, int]]) -> bool:
    """Every unit received has been inspected and none waits for processing."""
    inspected = {line_id: sum(counts.values()) for line_id, counts in dispositions.items()}
    return (waiting(dispositions) == 0 and bool(settled(dispositions))
            and all(inspected.get(line_id, 0) >= n for line_id, n in received.items()))
