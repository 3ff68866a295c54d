"""Dispatch waves: the shipments waiting at a depot become a routing problem, the solver's answer becomes
route.planned, and whatever it could not route becomes stop.unassigned (carried to the next wave) or goes to a
third-party carrier, each with its reason. A re-plan keeps stops already out for delivery where they are."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from time import monotonic
from zoneinfo import ZoneInfo

from schemas.base import TimeWindow
from schemas.routing import DeliveryMethodChosen, PlannedRoute, PlannedStop, RoutePlanned, StopUnassigned
from services.common.handling import Context, Emitter
from services.common.logging import get_logger
from services.routing.domain import model as int_model
from services.routing.domain.plan import Plan, read, violations
from services.routing.domain.problem import (
    Break,
    Fixed,
    GreatCircle,
    Point,
    Problem,
    Stop,
    Vehicle,
    Window,
    great_circle_km,
)
from services.routing.settings import RoutingSettings
from services.routing.solver import RawSolution, RouteSolver, Solver, SolverParams
from services.routing.store import Depot, Shipment, Van, Work

log = get_logger(__name__)
WRITE_BACK_S = 30.0
"""What a wave's transaction may sit idle beyond the search's own limit: building the problem, reading the plan."""
NAMESPACE = uuid.UUID("7d0f6d43-5d0e-4b8e-9a55-3b0c1f5e2a10")
CARRIER_CODES = {"window_unreachable", "shift_too_short", "no_vehicle_capacity"}


def solver_params(settings: RoutingSettings) -> SolverParams:
    return SolverParams(time_limit_s=settings.routing_time_limit_s, engine=settings.routing_engine,
                        first_solution=settings.routing_first_solution,
                        metaheuristic=settings.routing_metaheuristic)


def _local(day: date, clock: str, zone: ZoneInfo) -> datetime:
    hours, minutes = map(int, clock.split(":"))
    return datetime.combine(day, time(hours, minutes), tzinfo=zone)


def service_day(now: datetime, zone: ZoneInfo, vans: Sequence[Van]) -> date:
    """The first local day on which some van still has half an hour of shift left."""
    today = now.astimezone(zone).date()
    latest = max(van.shift_end for van in vans)
    return today if _local(today, latest, zone) > now + timedelta(minutes=30) else today + timedelta(days=1)


@dataclass
class Wave:
    depot: Depot
    vans: list[Van]
    shipments: list[Shipment]
    origin: datetime
    day: date


def _point(shipment: Shipment) -> Point:
    if shipment.latitude is None or shipment.longitude is None:  # dispatch hands these to a carrier first
        raise ValueError(f"shipment {shipment.shipment_id} has no coordinates to route to")
    return Point(shipment.longitude, shipment.latitude)


def wave_problem(wave: Wave, settings: RoutingSettings, fixed: dict[str, Fixed] | None = None) -> Problem:
    zone = ZoneInfo(wave.depot.time_zone)

    def seconds(at: datetime) -> float:
        return (at - wave.origin).total_seconds()

    vehicles = []
    for van in wave.vans:
        start, end = seconds(_local(wave.day, van.shift_start, zone)), seconds(_local(wave.day, van.shift_end, zone))
        rest = None
        if van.break_minutes and van.break_start and van.break_end:
            window = Window(max(0.0, seconds(_local(wave.day, van.break_start, zone))),
                            max(0.0, seconds(_local(wave.day, van.break_end, zone))))
            if window.end > max(0.0, start):
                rest = Break(window, van.break_minutes * 60.0)
        vehicles.append(Vehicle(van.vehicle_id, van.capacity_kg, van.capacity_m3, Window(max(0.0, start), max(0.0, end)),
                                van.cost_per_km, van.fixed_cost, rest))
    stops = [Stop(s.shipment_id, _point(s), Window(seconds(s.window_start), seconds(s.window_end)),
                  settings.routing_service_time_s, s.weight_kg, s.volume_m3, s.priority,
                  (fixed or {}).get(s.shipment_id)) for s in wave.shipments]
    hours = Window(0.0, max((v.shift.end for v in vehicles), default=0.0))
    return Problem.build(Point(wave.depot.longitude, wave.depot.latitude), hours, stops, vehicles,
                         GreatCircle(settings.routing_road_factor, settings.routing_speed_kmh))


def solve(problem: Problem, params: SolverParams, solver: Solver | None = None, eta_half_width_s: float = 1800.0,
          started: float | None = None) -> tuple[Plan, RawSolution]:
    """Model building, solving and reading back: the one path the service, the CLI and the benchmark share.
    `started` (monotonic()) counts the building of the problem into the time limit too."""
    started = monotonic() if started is None else started
    model = int_model.build(problem)
    left = max(0.5, params.time_limit_s - (monotonic() - started))
    raw = (solver or RouteSolver()).solve(model, params.model_copy(update={"time_limit_s": left}))
    routes = [[node - 1 for node in route] for route in raw.routes]
    plan = read(problem, routes, [node - 1 for node in raw.dropped], eta_half_width_s)
    wrong = violations(problem, routes)
    if wrong:  # the model is built so this cannot happen; say so loudly if it ever does
        log.error("routing.infeasible_plan", problems=wrong[:5])
    return plan, raw


def _hand_to_carrier(uow: Work, events: Emitter, shipment: Shipment, reason: str) -> None:
    uow.store.set_status(shipment.shipment_id, "carrier")
    events.emit(DeliveryMethodChosen(
        depot_id=shipment.depot_id, shipment_id=shipment.shipment_id, tracking_number=shipment.tracking_number,
        shop_id=shipment.shop_id, order_id=shipment.order_id, method="carrier", reason=reason, chosen_at=uow.now))


def dispatch(uow: Work, depot_id: str, settings: RoutingSettings, *, day: date | None = None,
             solver: Solver | None = None) -> None:
    """Close a wave at the depot now: route what is due on the service day."""
    now = uow.now
    depot, vans = uow.store.lock_depot(depot_id)
    uow.store.wave_closed(depot_id, now)
    if not vans:
        return
    zone = ZoneInfo(depot.time_zone)
    day = day or service_day(now, zone, vans)
    waiting = uow.store.claim_waiting(depot_id, before=_local(day, "00:00", zone) + timedelta(days=1))
    wave_id = f"DW-{depot_id}-{now:%Y%m%d%H%M%S}{now.microsecond // 1000:03d}"
    events = uow.events(namespace=uuid.uuid5(NAMESPACE, wave_id))
    routable = []
    for shipment in waiting:
        if shipment.latitude is None or shipment.longitude is None:
            _hand_to_carrier(uow, events, shipment, "the address has no coordinates to route to")
            continue
        km = great_circle_km(Point(depot.longitude, depot.latitude), Point(shipment.longitude, shipment.latitude))
        if km > depot.service_radius_km:
            _hand_to_carrier(uow, events, shipment, f"the address is {km:.1f} km from the depot, outside its "
                                                    f"{depot.service_radius_km:g} km service area")
            continue
        routable.append(shipment)
    if routable:
        wave = Wave(depot, vans, routable, now.replace(microsecond=0), day)  # whole seconds: windows stay exact
        _plan_wave(uow, events, wave, f"{wave_id}-P1", wave_id, settings, solver, {})


def replan(uow: Work, wave_id: str, settings: RoutingSettings, solver: Solver | None = None) -> None:
    """Plan the wave again: delivered and failed stops are done, stops out for delivery stay on their van in
    their order, and only the rest moves. Times count from the wave's close, as the first plan did."""
    closed = uow.store.wave(wave_id)
    if closed is None:
        raise LookupError(f"no wave {wave_id!r}")
    depot, vans = uow.store.lock_depot(closed.depot_id)
    rows = uow.store.locked_on_wave(wave_id)
    fixed: dict[str, Fixed] = {}
    positions: dict[str, int] = {}
    for row in rows:
        if row.status == "out_for_delivery" and row.vehicle_id is not None:
            positions[row.vehicle_id] = positions.get(row.vehicle_id, 0) + 1
            fixed[row.shipment_id] = Fixed(row.vehicle_id, positions[row.vehicle_id])
    plan_id = f"{wave_id}-P{int(closed.plan_id.rsplit('-P', 1)[1]) + 1}"
    wave = Wave(depot, vans, rows, closed.closed_at, date.fromisoformat(closed.service_date))
    _plan_wave(uow, uow.events(namespace=uuid.uuid5(NAMESPACE, plan_id)), wave, plan_id, wave_id, settings, solver,
               fixed)


def _plan_wave(uow: Work, events: Emitter, wave: Wave, plan_id: str, wave_id: str, settings: RoutingSettings,
               solver: Solver | None, fixed: dict[str, Fixed]) -> None:
    started, now = monotonic(), uow.now
    uow.store.hold_open(settings.routing_time_limit_s + WRITE_BACK_S)
    problem = wave_problem(wave, settings, fixed)
    plan, raw = solve(problem, solver_params(settings), solver, settings.routing_eta_half_width_min * 60, started)
    by_index = wave.shipments
    origin = wave.origin

    def at(seconds: float) -> datetime:
        return origin + timedelta(seconds=round(seconds))

    routes = []
    for route in plan.routes:
        van = problem.vehicles[route.vehicle]
        stops = []
        for sequence, visit in enumerate(route.visits, 1):
            shipment = by_index[visit.stop]
            stops.append(PlannedStop(
                sequence=sequence, shipment_id=shipment.shipment_id, tracking_number=shipment.tracking_number,
                shop_id=shipment.shop_id, order_id=shipment.order_id, arrival=at(visit.start),
                eta_window=TimeWindow(start=at(visit.eta.start), end=at(visit.eta.end)),
                load_weight_kg=Decimal(f"{visit.load_weight:.3f}"), load_volume_m3=Decimal(f"{visit.load_volume:.4f}")))
            uow.store.set_status(shipment.shipment_id,
                                 "out_for_delivery" if shipment.status == "out_for_delivery" else "planned",
                                 wave_id=wave_id, vehicle_id=van.id, sequence=sequence)
        routes.append(PlannedRoute(vehicle_id=van.id, departure=at(route.departure), return_at=at(route.return_at),
                                   distance_km=Decimal(f"{route.distance:.2f}"), duration_s=round(route.duration),
                                   stops=stops, break_start=None if route.rest_at is None else at(route.rest_at),
                                   break_after_stops=None if route.rest_at is None else route.rest_after))
    events.emit(RoutePlanned(plan_id=plan_id, depot_id=wave.depot.depot_id, wave_id=wave_id, planned_at=now,
                             routes=routes))
    for dropped in plan.dropped:
        shipment = by_index[dropped.stop]
        carry = dropped.code not in CARRIER_CODES and shipment.priority < settings.routing_max_carry
        events.emit(StopUnassigned(
            plan_id=plan_id, depot_id=wave.depot.depot_id, shipment_id=shipment.shipment_id,
            tracking_number=shipment.tracking_number, shop_id=shipment.shop_id, order_id=shipment.order_id,
            code=dropped.code, reason=dropped.reason, carried_to_next_wave=carry))
        if carry:
            uow.store.set_status(shipment.shipment_id, "waiting", priority=shipment.priority + 1, wave_id=None,
                                 vehicle_id=None, sequence=None)
        else:
            why = dropped.reason if dropped.code in CARRIER_CODES else \
                f"{dropped.reason}; carried over {shipment.priority} wave(s) already"
            _hand_to_carrier(uow, events, shipment, f"no own-fleet route can take it: {why}")
    summary = {"stops": len(wave.shipments), "routed": sum(len(r.visits) for r in plan.routes),
               "dropped": len(plan.dropped), "vehicles": plan.vehicles, "distance_km": round(plan.distance, 2),
               "solver_status": raw.status, "solver_seconds": round(raw.seconds, 2), "fixed": len(fixed)}
    uow.store.save_wave(wave_id, wave.depot.depot_id, wave.origin, wave.day.isoformat(), plan_id, now, summary)
    log.info("routing.wave_planned", wave_id=wave_id, plan_id=plan_id, **summary)


def close_due_waves(uow: Work, ctx: Context[RoutingSettings]) -> None:
    """Each depot closes a wave at each of its cut-off times (local), once."""
    for depot in uow.store.depots_free_to_plan():  # a depot another worker is planning right now is theirs
        zone = ZoneInfo(depot.time_zone)
        local = uow.now.astimezone(zone)
        passed = [c for c in depot.cutoffs if _local(local.date(), c, zone) <= uow.now]
        if not passed:
            continue
        due = _local(local.date(), passed[-1], zone)
        if depot.last_wave_at is not None and depot.last_wave_at >= due:
            continue
        dispatch(uow, depot.depot_id, ctx.settings)
