"""`fulfil orders show SHOP ORDER`: one order's story across the services, in time order, from each service's own
records (read-only SQL over their schemas, like `fulfil kpis`), headed by its status: the furthest stage it reached
anywhere (tracking's rule, services/tracking/domain/status.py), and its returns."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import typer
from sqlalchemy import text

from services.common.commands import fail, session

commands = typer.Typer()
orders = typer.Typer(help="Orders across the services.", no_args_is_help=True)
commands.add_typer(orders, name="orders")

STORY: dict[str, str] = {
    "orders": """
SELECT t.at, 'orders' AS service, 'status ' || coalesce(t.from_status || ' -> ', '') || t.to_status AS what,
       NULL::text AS shipment_id, NULL::jsonb AS detail
  FROM orders.order_transitions t WHERE t.shop_id = :shop AND t.order_id = :order
""",
    "warehouse": """
SELECT s.reserved_at, 'warehouse', 'reserved in ' || s.warehouse_id || ' (' || s.rule || ')', s.shipment_id,
       jsonb_build_object('explanation', s.explanation,
                          'lines', (SELECT jsonb_agg(jsonb_build_object('line_id', l.line_id, 'sku', l.sku,
                                                                        'quantity', l.quantity) ORDER BY l.line_id)
                                      FROM warehouse.shipment_lines l WHERE l.shipment_id = s.shipment_id))
  FROM warehouse.shipments s WHERE s.shop_id = :shop AND s.order_id = :order
UNION ALL
SELECT p.issued_at, 'warehouse', 'on pick list ' || p.picklist_id || ', tote ' || coalesce(s.tote, '-'),
       s.shipment_id, jsonb_build_object('wave_id', p.wave_id)
  FROM warehouse.shipments s JOIN warehouse.picklists p USING (picklist_id)
 WHERE s.shop_id = :shop AND s.order_id = :order
UNION ALL
SELECT s.packed_at, 'warehouse', 'packed as parcel ' || s.parcel_id || ', tracking number ' || s.tracking_number,
       s.shipment_id, jsonb_build_object('weight_kg', s.weight_kg, 'volume_m3', s.volume_m3)
  FROM warehouse.shipments s WHERE s.shop_id = :shop AND s.order_id = :order AND s.packed_at IS NOT NULL
UNION ALL
SELECT b.since, 'warehouse', 'backordered: ' || b.quantity || ' x ' || b.sku || ' (line ' || b.line_id || ')', NULL,
       NULL FROM warehouse.backorders b WHERE b.shop_id = :shop AND b.order_id = :order
""",
    "tracking": """
SELECT c.at, 'tracking', c.status || coalesce(' at ' || c.place, '') || coalesce(': ' || c.reason, ''),
       c.shipment_id,
       CASE WHEN c.eta_start IS NULL THEN NULL
            ELSE jsonb_build_object('eta_start', c.eta_start, 'eta_end', c.eta_end) END
  FROM tracking.checkpoints c JOIN tracking.shipments s USING (shipment_id)
 WHERE s.shop_id = :shop AND s.order_id = :order
""",
    "routing": """
SELECT coalesce(w.closed_at, s.packed_at), 'routing',
       'routed: wave ' || s.wave_id || ', vehicle ' || coalesce(s.vehicle_id, '-') || ', stop '
       || coalesce(s.sequence::text, '-') || ' (' || s.status || ')', s.shipment_id, NULL
  FROM routing.shipments s LEFT JOIN routing.waves w USING (wave_id)
 WHERE s.shop_id = :shop AND s.order_id = :order AND s.wave_id IS NOT NULL
""",
    "returns": """
SELECT r.requested_at, 'returns',
       'return ' || r.return_id || coalesce(' (' || r.rma || ')', '') || ' ' || r.status, NULL,
       jsonb_build_object('lines', r.lines, 'rejected_because', r.reasons)
  FROM returns.returns r WHERE r.shop_id = :shop AND r.order_id = :order
UNION ALL
SELECT f.issued_at, 'returns', 'refund ' || f.refund_id || ': ' || to_char(f.amount_cents / 100.0, 'FM999999990.00'),
       NULL, jsonb_build_object('explanation', f.explanation)
  FROM returns.refunds f WHERE f.shop_id = :shop AND f.order_id = :order
""",
}
"""Each service's part of the story, read in its own database (services may each have theirs)."""


@orders.command("show")
def show(shop: Annotated[str, typer.Argument(help="The shop")],
         order: Annotated[str, typer.Argument(help="The shop's order id")],
         as_json: Annotated[bool, typer.Option("--json", help="One JSON object")] = False) -> None:
    """An order's story across the services in time order: status transitions, reservations with the rule and its
    explanation, pick lists and totes, parcels, routes, tracking checkpoints with ETAs, backorders, returns and
    refunds."""
    params = {"shop": shop, "order": order}
    with session(what="could not read the order's story", service="orders") as opened:
        head = opened.execute(text("SELECT status, placed_at FROM orders.orders WHERE shop_id = :shop AND "
                                   "order_id = :order"), params).first()
    if head is None:
        raise fail(f"shop {shop!r} has no order {order!r}")
    steps: list[Any] = []
    for service, sql in STORY.items():
        with session(what="could not read the order's story", service=service) as opened:
            steps += opened.execute(text(f"SELECT * FROM ({sql}) AS story(at, service, what, shipment_id, detail)"),
                                    params).all()
    steps.sort(key=lambda step: (step.at is None, step.at, step.service))
    status = _furthest(shop, order, head.status)
    if as_json:
        typer.echo(json.dumps({"shop_id": shop, "order_id": order, "status": status,
                               "placed_at": head.placed_at.isoformat(),
                               "story": [{"at": _iso(s.at), "service": s.service, "what": s.what,
                                          "shipment_id": s.shipment_id, "detail": s.detail} for s in steps]},
                              indent=2, default=str))
        return
    typer.echo(f"order {order} of {shop}: {status} (placed {head.placed_at:%Y-%m-%d %H:%M:%S} UTC)")
    for s in steps:
        shipment = f" [{s.shipment_id}]" if s.shipment_id else ""
        typer.echo(f"  {_iso(s.at) or '-':32} {s.service:9} {s.what}{shipment}")
        if s.detail and (said := _detail(s.detail)):
            typer.echo(said)


def _furthest(shop: str, order: str, ordered: str) -> str:
    """The furthest stage across the services: the orders service's status until tracking knows more (a parcel
    planned, out for delivery, delivered), then tracking's; and each return's own state after it."""
    from services.tracking.domain.status import Status, order_status
    params = {"shop": shop, "order": order}
    with session(what="could not read the order's status", service="tracking") as opened:
        known = opened.execute(text("SELECT status, waiting FROM tracking.orders WHERE shop_id = :shop AND "
                                    "order_id = :order"), params).first()
        shipments = [Status(s) for s in opened.execute(text(
            "SELECT status FROM tracking.shipments WHERE shop_id = :shop AND order_id = :order"), params).scalars()]
    status = ordered
    if ordered not in ("rejected", "cancelled") and known is not None and shipments:
        status = order_status(known.status == "cancelled", sum(known.waiting.values()), shipments).value
    with session(what="could not read the order's returns", service="returns") as opened:
        returns = [f"return {r.return_id} {r.status}" for r in opened.execute(text(
            "SELECT return_id, status FROM returns.returns WHERE shop_id = :shop AND order_id = :order "
            "ORDER BY requested_at, return_id"), params)]
    return ", ".join([status, *returns])


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def _detail(detail: dict[str, Any]) -> str:
    explanation = detail.get("explanation")
    if isinstance(explanation, str):
        return f"  {'':32} {'':9}   {explanation}"
    if isinstance(explanation, list):
        return "\n".join(f"  {'':32} {'':9}   {line}" for line in explanation)
    if detail.get("eta_start"):
        return f"  {'':32} {'':9}   ETA {detail['eta_start']} - {detail['eta_end']}"
    return ""
