"""How the mart suites are shared among the suite workers (quality/mart_validation.py)."""

from __future__ import annotations

import pytest

from crimemap.quality.mart_validation import balanced_shares


def test_the_costliest_suites_go_to_different_workers_and_the_sums_even_out() -> None:
    costs = [1.0, 9.0, 2.0, 8.0, 3.0, 3.0]
    shares = balanced_shares(costs, 2)
    assert sorted(i for share in shares for i in share) == list(range(len(costs)))
    assert {shares[0][0], shares[1][0]} == {1, 3}  # 9 and 8 start the two shares
    assert sorted(sum(costs[i] for i in share) for share in shares) == [13.0, 13.0]


@pytest.mark.parametrize(("suites", "workers", "sizes"), [(1, 2, [1]), (3, 4, [1, 1, 1])])
def test_no_worker_gets_an_empty_share(suites: int, workers: int, sizes: list[int]) -> None:
    shares = balanced_shares([5.0] * suites, workers)
    assert [len(share) for share in shares] == sizes


def test_equal_costs_are_dealt_out_in_turn() -> None:
    assert balanced_shares([0.0, 0.0, 0.0, 0.0], 2) == [[0, 2], [1, 3]]
