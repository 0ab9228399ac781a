"""Cache lines and the host topology behind mmu_lock contention (simulator.kvm.lines,
simulator.kvm.topology).

Expected behaviour (issue "mmu_lock and KVM costs from mechanism"):

- a contended line is a FIFO server whose service is the transfer from the last owner to the
  requester; an owner's own access costs nothing beyond its CPU time;
- the mean-field line agrees with the exact one: with ``k`` actors always at the line each
  access waits for the ``k - 1`` others (aggregate throughput one transfer per access), at light
  load an access waits ρ s / 2 (M/D/1), and an actor that accesses again soon after its own
  access usually still owns the line;
- the transfer latency grows with distance (SMT sibling < same LLC < same socket < other
  socket); Linux-like placement fills idle cores before SMT siblings and keeps a small NUMA
  imbalance; CPU work stretches only once busy threads outnumber the cores.
"""

from __future__ import annotations

import numpy as np
import pytest

from simulator.costs import CostConfig
from simulator.kvm.lines import Line, LineField
from simulator.kvm.topology import Topology, place

C = CostConfig()


def uniform(n: int, t: float, self_ns: float = 7.0) -> np.ndarray:
    m = np.full((n, n), t)
    np.fill_diagonal(m, self_ns)
    return m


def test_line_owner_pays_nothing_and_others_pay_the_transfer() -> None:
    line = Line(uniform(3, 100.0))
    assert line.access(0, 0.0) == 0.0  # nobody owned it: the atomic itself (in CPU time)
    assert line.access(0, 50.0) == 50.0  # still the owner
    assert line.access(1, 60.0) == pytest.approx(60.0 + 100.0 - 7.0)  # moves to CPU 1
    # FIFO: a request issued while the line is busy waits for the transfer in progress
    assert line.access(2, 70.0) == pytest.approx(160.0 + 100.0 - 7.0)


def test_line_field_saturates_at_one_transfer_per_access() -> None:
    """k - 1 other actors that are always at the line: an access waits for each of them
    (round robin: (k - 1) s; mean field counts the one in service at half its transfer)."""
    k, s = 8, 100.0
    field = LineField(uniform(k, s))
    for a in range(1, k):  # one access per k·s ns, always at the line
        field.declare(a, 0.0, 1e6, 1e6 / (k * s), s, 1e6)
    (cost,) = field.costs(0, 1.0, [1e9])
    assert cost.wait == pytest.approx((k - 1) * s * (1 - 1 / (2 * k)))
    assert cost.wait == pytest.approx((k - 1) * s, rel=0.1)
    assert cost.transfer == pytest.approx(s)


def test_line_field_light_load_is_m_d_1() -> None:
    s, rho = 100.0, 0.05
    field = LineField(uniform(2, s))
    field.declare(1, 0.0, 1e6, rho * 1e6 / s, s, rho * 1e6)  # at the line only when served
    (cost,) = field.costs(0, 1.0, [1e9])
    assert cost.wait == pytest.approx(rho * s / 2, rel=1e-6)


def test_line_field_own_recent_access_keeps_the_line() -> None:
    field = LineField(uniform(2, 100.0))
    field.declare(1, 0.0, 1e6, 1e6 / 1e5, 100.0, 1e6 / 1e5 * 100.0)  # one access per 100 us
    soon, late = field.costs(0, 1.0, [0.0, 1e7])
    assert soon.transfer < 10.0  # another access in between is unlikely
    assert late.transfer == pytest.approx(100.0, rel=1e-3)


def test_transfer_latency_grows_with_distance() -> None:
    topo = Topology(sockets=2, cores_per_socket=4, smt=2, cores_per_llc=2)
    p = place(topo, 15)  # 16 threads: every logical CPU
    t = p.transfer(C)
    classes = {float(x) for x in t.ravel()}
    assert classes == {C.line_self_ns, C.line_smt_ns, C.line_same_llc_ns,
                       C.line_same_socket_ns, C.line_other_socket_ns}
    same_core = (p.core[:, None] == p.core[None, :]) & ~np.eye(16, dtype=bool)
    assert (t[same_core] == C.line_smt_ns).all()
    assert (t[p.socket[:, None] != p.socket[None, :]] == C.line_other_socket_ns).all()


def test_placement_fills_cores_before_siblings_and_spreads_sockets() -> None:
    topo = Topology(sockets=2, cores_per_socket=28, smt=2)
    p = place(topo, 1)
    assert p.socket.tolist() == [0, 0]  # a pair stays on one node (NUMA_IMBALANCE_MIN)
    p = place(topo, 55)  # 56 threads: one per physical core
    assert len(set(p.core.tolist())) == 56
    assert abs(int((p.socket == 0).sum()) - int((p.socket == 1).sum())) <= 2
    p = place(topo, 111)  # every logical CPU
    assert len(set(p.cpu.tolist())) == 112
    assert p.socket[-1] == 0  # the host thread (placed first) is the last actor


def test_stretch_only_beyond_the_cores() -> None:
    topo = Topology(sockets=2, cores_per_socket=28, smt=2)
    p = place(topo, 112)
    assert p.stretch(56, C) == 1.0
    assert p.stretch(112, C) == pytest.approx(C.smt_corun_factor)  # every core shared
    assert 1.0 < p.stretch(65, C) < C.smt_corun_factor
    assert p.stretch(224, C) == pytest.approx(2 * C.smt_corun_factor)  # time sharing too
