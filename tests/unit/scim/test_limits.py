"""The SCIM rate limit: a token bucket per account, driven by a fake clock (no sleeping)."""

from __future__ import annotations

from switchboard.scim.limits import RateLimiter, TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limiter(clock: FakeClock, max_accounts: int = 10_000) -> RateLimiter:
    return RateLimiter(clock=clock, max_accounts=max_accounts)


def known(lim: RateLimiter, slug: str, rate: int | None) -> None:
    assert lim.claim_refresh(slug)
    lim.set_limit(slug, rate)


def test_25_requests_a_second_sustained_are_never_limited_even_at_the_lowest_limit() -> None:
    for rate in (25, 100):
        clock = FakeClock()
        lim = limiter(clock)
        known(lim, "acme", rate)
        for _ in range(25 * 600):  # ten minutes, evenly spaced
            assert lim.take("acme").allowed
            clock.now += 1 / 25


def test_25_a_second_in_bursts_at_the_start_of_each_second_pass_with_the_default_limit() -> None:
    clock = FakeClock()
    lim = limiter(clock)
    known(lim, "acme", 100)
    for second in range(300):
        clock.now = 1000.0 + second
        for i in range(25):
            clock.now += 0.001 * i
            assert lim.take("acme").allowed


def test_200_at_once_with_a_limit_of_100_are_refused_above_the_burst() -> None:
    clock = FakeClock()
    lim = limiter(clock)
    known(lim, "acme", 100)
    decisions = [lim.take("acme") for _ in range(200)]
    assert sum(d.allowed for d in decisions) == 100
    refused = [d for d in decisions if not d.allowed]
    assert len(refused) == 100 and all(d.retry_after == 1 and d.rate == 100 for d in refused)
    # After waiting Retry-After, the client gets through.
    clock.now += refused[-1].retry_after
    assert lim.take("acme").allowed


def test_200_a_second_sustained_get_the_limit_of_100_a_second() -> None:
    clock = FakeClock()
    lim = limiter(clock)
    known(lim, "acme", 100)
    allowed = 0
    for _ in range(200 * 10):
        allowed += lim.take("acme").allowed
        clock.now += 1 / 200
    # Ten seconds at 100 a second, plus the first burst of 100.
    assert 1090 <= allowed <= 1100


def test_accounts_have_buckets_of_their_own() -> None:
    clock = FakeClock()
    lim = limiter(clock)
    known(lim, "acme", 25)
    known(lim, "beta", 25)
    for _ in range(25):
        assert lim.take("acme").allowed
    assert not lim.take("acme").allowed
    assert lim.take("beta").allowed


def test_slugs_of_no_account_share_one_bucket_and_the_table_is_bounded() -> None:
    clock = FakeClock()
    lim = limiter(clock, max_accounts=50)
    for n in range(100):
        known(lim, f"nosuch-{n}", None)
        assert lim.take(f"nosuch-{n}").allowed
    # The hundred strangers took from one bucket of 100 (the default), so the next is refused.
    known(lim, "nosuch-100", None)
    assert not lim.take("nosuch-100").allowed
    assert len(lim._accounts) <= 50 and len(lim._buckets) <= 51


def test_the_limit_is_read_again_only_after_the_refresh_period() -> None:
    clock = FakeClock()
    lim = limiter(clock)
    known(lim, "acme", 25)
    clock.now += 1
    assert not lim.claim_refresh("acme")
    clock.now += 5
    assert lim.claim_refresh("acme")
    assert not lim.claim_refresh("acme")  # one reader per period
    lim.set_limit("acme", 50)
    for _ in range(50):
        assert lim.take("acme").allowed
    assert not lim.take("acme").allowed


def test_a_lowered_limit_also_lowers_what_the_bucket_holds() -> None:
    bucket = TokenBucket(100, now=0.0)
    bucket.resize(25, now=0.0)
    taken = sum(1 for _ in range(100) if bucket.take(0.0) == 0.0)
    assert taken == 25
    assert bucket.take(0.0) == 1 / 25  # seconds until the next token


def test_a_refund_gives_back_what_an_allowed_request_took_and_no_more() -> None:
    clock = FakeClock()
    lim = limiter(clock)
    known(lim, "acme", 25)
    for _ in range(100):
        decision = lim.take("acme")
        assert decision.allowed
        lim.refund(decision)
    taken = [lim.take("acme") for _ in range(26)]
    assert [d.allowed for d in taken] == [True] * 25 + [False]
    lim.refund(taken[-1])  # a refused request took nothing: nothing comes back
    assert not lim.take("acme").allowed
