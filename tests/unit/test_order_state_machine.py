import pytest

from services.orders.domain.errors import IllegalTransition
from services.orders.domain.state_machine import OrderStatus as S
from services.orders.domain.state_machine import Trigger, decide_cancellation, next_status


def test_an_accepted_order_moves_forward_through_allocation_picking_and_packing() -> None:
    status = S.ACCEPTED
    for trigger, expected in [(Trigger.ALLOCATE, S.ALLOCATED), (Trigger.START_PICKING, S.PICKING),
                              (Trigger.PACK, S.PACKED)]:
        status = next_status(status, trigger)
        assert status == expected


def test_a_late_reservation_never_moves_a_picking_order_backwards() -> None:
    with pytest.raises(IllegalTransition, match="cannot allocate an order that is picking"):
        next_status(S.PICKING, Trigger.ALLOCATE)


def test_a_backordered_order_becomes_allocated_when_stock_arrives() -> None:
    assert next_status(S.BACKORDERED, Trigger.ALLOCATE) == S.ALLOCATED


@pytest.mark.parametrize("terminal", [S.REJECTED, S.CANCELLED])
@pytest.mark.parametrize("trigger", list(Trigger))
def test_terminal_orders_accept_no_trigger(terminal: S, trigger: Trigger) -> None:
    with pytest.raises(IllegalTransition):
        next_status(terminal, trigger)


def test_repeated_events_are_idempotent() -> None:
    assert next_status(S.PICKING, Trigger.START_PICKING) == S.PICKING
    assert next_status(S.PACKED, Trigger.PACK) == S.PACKED


@pytest.mark.parametrize("status", [S.ACCEPTED, S.ALLOCATED, S.BACKORDERED])
def test_orders_can_be_cancelled_before_picking(status: S) -> None:
    assert decide_cancellation(status).cancel
    assert next_status(status, Trigger.CANCEL) == S.CANCELLED


@pytest.mark.parametrize("status", [S.PICKING, S.PACKED])
def test_cancellation_is_refused_once_picking_has_started(status: S) -> None:
    decision = decide_cancellation(status)
    assert (decision.cancel, decision.code) == (False, "picking_started")
    assert "picking has started" in decision.message


def test_cancellation_of_an_unknown_order_is_refused() -> None:
    assert decide_cancellation(None).code == "unknown_order"


def test_a_repeated_cancellation_is_ignored_and_a_rejected_order_is_not_cancellable() -> None:
    assert decide_cancellation(S.CANCELLED).ignore
    assert decide_cancellation(S.REJECTED).code == "not_cancellable"
