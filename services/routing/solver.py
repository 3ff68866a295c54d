"""The route search behind a small interface: typed, validated parameters in, routes of node indices out. A tiny
wave is solved exactly; PyVRP searches any wave its model covers; OR-Tools then ruin and recreate plan the rest
(driver breaks, stops already out for delivery). The model's integers come from domain.model; nothing here
knows about events or the database."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from services.routing import pyvrp_search
from services.routing.domain.exact import exact_plan
from services.routing.domain.model import IntModel, fixed_routes, route_cost
from services.routing.domain.ruin_recreate import improve

FirstSolution = Literal["parallel_cheapest_insertion", "local_cheapest_insertion", "path_cheapest_arc",
                        "savings", "christofides", "automatic"]
ORTOOLS_S_PER_STOP = 0.01  # OR-Tools' start needs no more: a hundred stops get a second, as tuned at 10 s
READ_BACK_SHARE = 0.02  # of the limit, kept for a search's last iteration and reading its plan back
LEAST_PATIENCE = 300  # iterations: a wave of ten stops is planned in about a quarter of a second
RUIN_RECREATE_STEPS = 100  # compiled ruin-and-recreate iterations (a few stops moved) counted as one of PyVRP's
Metaheuristic = Literal["guided_local_search", "simulated_annealing", "tabu_search", "greedy_descent"]
Engine = Literal["pyvrp", "ortools"]


class SolverParams(BaseModel):
    """What the search may be told. The defaults are what measured best on the Solomon tuning instances
    (bench/routing)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    time_limit_s: float = Field(10.0, gt=0, le=3600, description="Wall-clock budget of one solve")
    engine: Engine = Field("pyvrp", description="pyvrp: PyVRP for every wave its model covers (no breaks, no "
                                                "stops already out), OR-Tools for the rest; ortools: always OR-Tools")
    first_solution: FirstSolution = "parallel_cheapest_insertion"
    metaheuristic: Metaheuristic = "guided_local_search"
    guided_local_search_lambda: float = Field(0.3, gt=0, le=10)
    ruin_recreate_share: float = Field(
        0.9, ge=0, lt=1, description="Share of the time limit spent improving OR-Tools' plan by ruin and recreate")
    seed: int = Field(1, ge=0, lt=2**31, description="Seed of PyVRP's and of the ruin-and-recreate search "
                                                      "(OR-Tools' own search is deterministic)")
    temperatures: tuple[float, float] = Field((50.0, 0.5), description="Annealing from and to, in distance units")
    patience: int = Field(
        3, ge=0, description="The search stops when this many iterations per stop squared (and at least "
                             f"{LEAST_PATIENCE}) have found no better plan (of PyVRP's; ruin and recreate's iterations "
                             f"are smaller steps: {RUIN_RECREATE_STEPS} count as one); 0: always search until the "
                             "time limit")
    log_search: bool = False


@dataclass(frozen=True)
class RawSolution:
    routes: list[list[int]]  # per vehicle, node indices (1..n) in visiting order
    dropped: list[int]
    objective: int
    seconds: float
    status: str
    iterations: int = 0  # of PyVRP's or the ruin-and-recreate search


class Solver(Protocol):
    def solve(self, model: IntModel, params: SolverParams) -> RawSolution: ...


def objective_of(model: IntModel, routes: list[list[int]], left: list[int]) -> int:
    return sum(route_cost(model, k, r) for k, r in enumerate(routes)) + sum(model.penalties[i] for i in left)


class RouteSolver:
    """Capacity (weight and volume) and time dimensions, optional stops with penalties, driver breaks and
    locked route prefixes for stops already out for delivery."""

    def solve(self, model: IntModel, params: SolverParams) -> RawSolution:
        """A tiny wave exactly; one whose needs PyVRP models with PyVRP; any other with OR-Tools for
        the first part of the limit, then ruin and recreate from its plan until the limit or until it stops
        finding better plans. A wave of a few hundred stops or more never runs out of patience inside its
        limit: a small one is done long before it."""
        started = time.monotonic()
        if (exact := exact_plan(model)) is not None:
            routes, left, objective = exact
            return RawSolution(routes, left, objective, time.monotonic() - started, "optimal")
        stops = len(model.distance) - 1
        searching_s = params.time_limit_s * (1 - READ_BACK_SHARE)
        patience = max(LEAST_PATIENCE, params.patience * stops * stops) if params.patience else None
        if params.engine == "pyvrp" and pyvrp_search.covers(model):
            routes, left, iterations, feasible = pyvrp_search.search(model, searching_s, params.seed, patience)
            if feasible:
                return RawSolution(routes, left, objective_of(model, routes, left), time.monotonic() - started,
                                   "pyvrp", iterations)
            # Never seen (every stop is optional), but a plan must come out: OR-Tools gets what time is left.
            remaining = max(0.5, params.time_limit_s - (time.monotonic() - started))
            return self.solve_ortools(model, params.model_copy(update={"time_limit_s": remaining}))
        share = params.ruin_recreate_share
        ortools_s = min(params.time_limit_s * (1 - share), ORTOOLS_S_PER_STOP * stops) if share else params.time_limit_s
        first = self.solve_ortools(model, params.model_copy(update={"time_limit_s": ortools_s}))
        if share == 0:
            return first
        deadline = started + searching_s
        routes, left, iterations = improve(model, first.routes, lambda: deadline - time.monotonic(), params.seed,
                                           *params.temperatures, patience and patience * RUIN_RECREATE_STEPS)
        objective = objective_of(model, routes, left)
        status = first.status if objective >= first.objective else f"{first.status}+ruin_recreate"
        return RawSolution(routes, left, objective, time.monotonic() - started, status, iterations)

    def solve_ortools(self, model: IntModel, params: SolverParams) -> RawSolution:
        from ortools.constraint_solver import pywrapcp

        n, k = len(model.distance), len(model.vehicles)
        manager = pywrapcp.RoutingIndexManager(n, k, 0)
        routing = pywrapcp.RoutingModel(manager)
        distance, transit = model.distance, model.transit

        # Matrices and vectors are registered whole, so OR-Tools reads them in C++ instead of calling back into
        # Python for every arc: many times more moves in the same time limit.
        costs = {rate: routing.RegisterTransitMatrix([[rate * d for d in row] for row in distance])
                 for rate in sorted({v.cost_per_unit for v in model.vehicles})}
        for vehicle, v in enumerate(model.vehicles):
            routing.SetArcCostEvaluatorOfVehicle(costs[v.cost_per_unit], vehicle)
            routing.SetFixedCostOfVehicle(v.fixed_cost, vehicle)

        time_cb = routing.RegisterTransitMatrix(transit)
        routing.AddDimension(time_cb, model.horizon, model.horizon, False, "time")
        time_dim = routing.GetDimensionOrDie("time")
        for node in range(1, n):
            time_dim.CumulVar(manager.NodeToIndex(node)).SetRange(*model.windows[node])
        for vehicle, v in enumerate(model.vehicles):
            time_dim.CumulVar(routing.Start(vehicle)).SetRange(*v.shift)
            time_dim.CumulVar(routing.End(vehicle)).SetRange(*v.shift)
            routing.AddVariableMinimizedByFinalizer(time_dim.CumulVar(routing.Start(vehicle)))
            routing.AddVariableMinimizedByFinalizer(time_dim.CumulVar(routing.End(vehicle)))

        for which, name in ((0, "weight"), (1, "volume")):
            if all(load[which] == 0 for load in model.loads):
                continue
            cb = routing.RegisterUnaryTransitVector([load[which] for load in model.loads])
            routing.AddDimensionWithVehicleCapacity(cb, 0, [v.capacity[which] for v in model.vehicles], True, name)

        for node in range(1, n):
            routing.AddDisjunction([manager.NodeToIndex(node)], model.penalties[node])

        solver = routing.solver()
        service = [model.service[manager.IndexToNode(index)] for index in range(manager.GetNumberOfIndices())]
        for vehicle, v in enumerate(model.vehicles):
            if v.rest is None:
                continue
            start_min, start_max, duration = v.rest
            interval = solver.FixedDurationIntervalVar(start_min, start_max, duration, False, f"break {vehicle}")
            time_dim.SetBreakIntervalsOfVehicle([interval], vehicle, service)

        search = pywrapcp.DefaultRoutingSearchParameters()
        _configure(search, params)

        locks = fixed_routes(model)
        started = time.monotonic()
        if locks:
            routing.CloseModelWithParameters(search)
            routing.ApplyLocksToAllVehicles(
                [[manager.NodeToIndex(node) for node in locks.get(vehicle, [])] for vehicle in range(k)], False)
        assignment = routing.SolveWithParameters(search)
        seconds = time.monotonic() - started
        status = {0: "not_solved", 1: "local_optimum", 2: "time_limit_reached", 3: "no_solution",
                  4: "no_solution_in_time", 5: "invalid_model", 6: "infeasible", 7: "optimal"}.get(
            routing.status(), str(routing.status()))
        if assignment is None:
            return RawSolution([[] for _ in range(k)], list(range(1, n)), 0, seconds, status)
        routes = []
        for vehicle in range(k):
            index, nodes = routing.Start(vehicle), []
            index = assignment.Value(routing.NextVar(index))
            while not routing.IsEnd(index):
                nodes.append(manager.IndexToNode(index))
                index = assignment.Value(routing.NextVar(index))
            routes.append(nodes)
        served = {node for route in routes for node in route}
        return RawSolution(routes, [node for node in range(1, n) if node not in served], assignment.ObjectiveValue(),
                           seconds, status)


def _configure(search: Any, params: SolverParams) -> None:
    from ortools.constraint_solver import routing_enums_pb2 as enums
    from ortools.util import optional_boolean_pb2 as optional

    search.first_solution_strategy = getattr(enums.FirstSolutionStrategy, params.first_solution.upper())
    search.local_search_metaheuristic = getattr(enums.LocalSearchMetaheuristic, params.metaheuristic.upper())
    search.guided_local_search_lambda_coefficient = params.guided_local_search_lambda
    search.time_limit.FromMilliseconds(int(params.time_limit_s * 1000))
    search.log_search = params.log_search
    # Moves for pickup-and-delivery pairs and visit types find nothing here, and dropping a stop is never
    # cheaper than its penalty while it fits: leaving those out buys more useful moves in the same time.
    for name in ("use_relocate_pair", "use_exchange_pair", "use_light_relocate_pair", "use_relocate_subtrip",
                 "use_exchange_subtrip", "use_global_cheapest_insertion_visit_types_lns",
                 "use_local_cheapest_insertion_visit_types_lns", "use_make_inactive", "use_make_chain_inactive"):
        setattr(search.local_search_operators, name, optional.BOOL_FALSE)
