from services.common.rate_limit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_is_allowed_then_the_client_waits_for_tokens() -> None:
    clock = Clock()
    limiter = RateLimiter(rate_per_s=2, burst=3, clock=clock)
    assert [limiter.allow("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.allow("a") == 0.5
    assert limiter.allow("b") == 0  # another client has its own bucket
    clock.now = 0.5
    assert limiter.allow("a") == 0


def test_the_table_of_clients_is_bounded() -> None:
    limiter = RateLimiter(rate_per_s=1, burst=1, clients=2, clock=Clock())
    for client in ("a", "b", "c"):
        limiter.allow(client)
    assert limiter.allow("a") == 0  # forgotten, so a fresh bucket
