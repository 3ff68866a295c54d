"""The demo is reproducible: the same seed gives the same world and the same shoppers."""

from __future__ import annotations


def test_the_demo_world_and_its_shoppers_follow_the_seed() -> None:
    from services.demo.simulator import Simulation
    from services.demo.world import generate
    from services.routing.settings import RoutingSettings
    assert generate(5) == generate(5) and generate(5) != generate(6)

    def orders(seed: int) -> list[object]:
        sim = Simulation(RoutingSettings(), generate(seed), 5, seed)
        return [sim._order(i).model_dump(exclude={"placed_at"}) for i in range(5)]
    assert orders(5) == orders(5) and orders(5) != orders(6)
