"""An iteration's burst of writes begins half its predicted length early, so that its tokens
straddle their moment instead of all trailing it (service/live/lead.py)."""

from __future__ import annotations

import pytest

from llmemu.service.live.lead import MIN_WRITES, BurstLead


def test_nothing_seen_nothing_early():
    assert BurstLead().lead_s(256, iteration_wall_s=0.0137) == 0.0


def test_the_lead_is_half_the_predicted_burst():
    lead = BurstLead()
    lead.observe(200, 0.002)  # 10 us a write
    # 300 writes of 10 us: a 3 ms burst, begun 1.5 ms before its moment.
    assert lead.lead_s(300, iteration_wall_s=0.0137) == pytest.approx(0.0015)


def test_a_stalled_burst_does_not_move_the_prediction():
    lead = BurstLead()
    for took_s in (0.002, 0.002, 0.010, 0.0022):  # 10, 10, 50 (a stall), 11 us a write
        lead.observe(200, took_s)
    assert lead.per_write_s == pytest.approx(11e-6)  # the median of four: the upper middle


def test_small_bursts_teach_nothing():
    lead = BurstLead()
    lead.observe(200, 0.002)
    lead.observe(MIN_WRITES - 1, 0.005)  # fixed costs, not writes
    assert lead.per_write_s == pytest.approx(10e-6)


def test_a_burst_begins_at_most_half_its_iteration_early():
    lead = BurstLead()
    lead.observe(200, 0.002)
    # 1000 writes would want 5 ms; the iteration lasts 4 ms: 2 ms at most.
    assert lead.lead_s(1000, iteration_wall_s=0.004) == pytest.approx(0.002)
