"""Where the threads of one VM run: host topology, thread placement and line-transfer latency.

The cost of an atomic on a shared cache line (``kvm->mmu_lock``'s lock word, ``mmap_lock``'s
count, ``kvm->stat.pages``) is the time to move the line from its last owner to the requester,
and that depends on how far apart the two CPUs are: SMT siblings share the L1 (``line_smt_ns``),
cores of one socket meet in its LLC or mesh (``line_same_socket_ns``), sockets go through the
interconnect (``line_other_socket_ns``); where a socket has several last-level caches (AMD
CCXs, ``host.cores_per_llc``) a transfer inside one costs ``line_same_llc_ns``; a CPU that still
owns the line pays only the atomic itself (``line_self_ns``). The values are CAS ping-pong
one-way latencies (``simulator.costs``).

The host is ``host.sockets`` × ``host.cores_per_socket`` cores with ``host.smt`` hardware
threads each. The VM's busy threads are placed as the Linux scheduler places busy threads of one
process, simplified to a deterministic rule (:func:`place`):

- the host thread first, then every vCPU of every VM in order (``HostCore.vcpu_base``); the
  host-side actors that may take a VM's ``mmu_lock`` (``simulator.host.HOST_ACTORS``: the host
  task, kswapd, the proactive agent, the debugfs or selftest ager) share that one thread's CPU,
  since at most one or two of them are busy at a time;
- an idle physical core before an SMT sibling (``select_idle_core``), an idle logical CPU
  before time sharing one;
- across sockets, an imbalance of up to ``NUMA_IMBALANCE_MIN`` = 2 tasks is kept on the first
  socket (``adjust_numa_imbalance``, kernel/sched/fair.c, "a simple pair of communicating tasks
  that remain local"), beyond that the least loaded socket is used.

Line distances come from this static placement; how much SMT sharing and time sharing slow a
thread depends on how many of the VM's threads are busy at the time (:meth:`Placement.stretch`,
the same average for every busy thread: the load balancer moves them around). The busy count is
each VM lock model's own (its vCPUs and the host actors stepping on it): with several VMs, the
others' busy vCPUs do not stretch this one's (a simplification; the placement is the host's).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from simulator.costs import CostConfig

NUMA_IMBALANCE_MIN = 2
"""kernel/sched/fair.c: the task imbalance between NUMA nodes the load balancer leaves alone."""

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Topology:
    """``host.sockets`` × ``host.cores_per_socket`` cores × ``host.smt`` threads."""

    sockets: int
    cores_per_socket: int
    smt: int
    cores_per_llc: int = 0
    """Cores sharing one last-level cache (an AMD CCX); 0: the whole socket (Intel)."""

    @property
    def llc_cores(self) -> int:
        return self.cores_per_llc or self.cores_per_socket

    @property
    def logical_cpus(self) -> int:
        return self.sockets * self.cores_per_socket * self.smt


@dataclass(frozen=True, slots=True)
class Placement:
    """Where each actor of the host's lock models runs (every vCPU, then the host actors)."""

    topology: Topology
    socket: npt.NDArray[np.int64]
    core: npt.NDArray[np.int64]
    """Global physical core id."""
    cpu: npt.NDArray[np.int64]
    """Global logical CPU id (threads beyond ``smt`` per core share one)."""

    @property
    def actors(self) -> int:
        return len(self.cpu)

    def transfer(self, costs: CostConfig) -> FloatArray:
        """``T[j, i]``: ns to move a line from actor ``j``'s CPU to actor ``i``'s."""
        same_cpu = self.cpu[:, None] == self.cpu[None, :]
        same_core = self.core[:, None] == self.core[None, :]
        same_socket = self.socket[:, None] == self.socket[None, :]
        llc = self.core // self.topology.llc_cores
        same_llc = llc[:, None] == llc[None, :]
        t: FloatArray = np.select(
            [same_cpu, same_core, same_llc, same_socket],
            [costs.line_self_ns, costs.line_smt_ns, costs.line_same_llc_ns,
             costs.line_same_socket_ns], costs.line_other_socket_ns).astype(np.float64)
        return t

    def stretch(self, busy: int, costs: CostConfig) -> float:
        """CPU-time stretch of a busy thread while ``busy`` threads of the VM run: the
        scheduler puts them on idle cores first, so beyond the core count some share a core
        with a busy SMT sibling (each such pair runs ``smt_corun_factor`` slower), and beyond
        the logical CPUs they time-share. The load balancer moves threads around, so every
        busy thread gets the average."""
        topo = self.topology
        cores = topo.sockets * topo.cores_per_socket
        share = max(1.0, busy / topo.logical_cpus)
        if topo.smt < 2 or busy <= cores:
            return share
        paired = min(1.0, 2.0 * (min(busy, topo.logical_cpus) - cores) / min(busy,
                                                                          topo.logical_cpus))
        return share * (1.0 + (costs.smt_corun_factor - 1.0) * paired)


def place(topology: Topology, vcpus: int, host_actors: int = 1) -> Placement:
    """Place the host thread and ``vcpus`` vCPU threads (see the module docstring); the result
    is indexed by actor: vCPU ``v`` at ``v``, the ``host_actors`` host-side actors at ``vcpus``
    onwards, all on the host thread's CPU."""
    s_count = [0] * topology.sockets
    core_load = np.zeros((topology.sockets, topology.cores_per_socket), dtype=np.int64)
    where: list[tuple[int, int, int]] = []
    for _ in range(vcpus + 1):
        idle_core = [s for s in range(topology.sockets) if (core_load[s] == 0).any()]
        idle_cpu = [s for s in range(topology.sockets)
                    if (core_load[s] < topology.smt).any()]
        allowed = idle_core or idle_cpu or list(range(topology.sockets))
        least = min(allowed, key=lambda s: (s_count[s], s))
        first = allowed[0]
        s = first if s_count[first] - s_count[least] < NUMA_IMBALANCE_MIN else least
        c = int(np.argmin(core_load[s]))  # the least loaded core, lowest index first
        slot = int(core_load[s, c])
        core_load[s, c] += 1
        s_count[s] += 1
        where.append((s, c, slot))
    # the host thread was placed first: its actors go after the vCPUs
    order = [*where[1:], *[where[0]] * host_actors]
    socket = np.array([s for s, _, _ in order], dtype=np.int64)
    core = np.array([s * topology.cores_per_socket + c for s, c, _ in order], dtype=np.int64)
    cpu = np.array([(s * topology.cores_per_socket + c) * topology.smt + slot % topology.smt
                    for s, c, slot in order], dtype=np.int64)
    return Placement(topology, socket, core, cpu)
