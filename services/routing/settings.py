"""The routing service's settings: the common ones and its own FULFIL_ROUTING_* knobs."""

from __future__ import annotations

from pydantic import Field

from services.common.settings import Settings
from services.routing.solver import Engine, FirstSolution, Metaheuristic


class RoutingSettings(Settings):
    routing_time_limit_s: float = Field(10.0, gt=0, le=3600, description="Solver time limit of one dispatch wave")
    routing_engine: Engine = Field(
        "pyvrp", description="pyvrp: PyVRP searches every wave without breaks or stops already out, OR-Tools the "
                             "rest; ortools: OR-Tools and ruin and recreate for every wave")
    routing_first_solution: FirstSolution = Field(
        "parallel_cheapest_insertion", description="OR-Tools first-solution strategy")
    routing_metaheuristic: Metaheuristic = Field(
        "guided_local_search", description="OR-Tools local-search metaheuristic")
    routing_service_time_s: float = Field(180.0, ge=0, description="Time at each doorstep")
    routing_speed_kmh: float = Field(30.0, gt=0, description="Average van speed over the road distance")
    routing_road_factor: float = Field(1.3, ge=1, description="Road distance over great-circle distance")
    routing_eta_half_width_min: float = Field(
        30.0, gt=0, description="A customer's ETA window is the planned arrival ± this, inside their delivery window")
    routing_max_carry: int = Field(
        2, ge=0, description="Waves a stop that found no room is carried over before it goes to a carrier")
    routing_wave_check_s: float = Field(15.0, gt=0, description="How often depots' cut-off times are checked")
