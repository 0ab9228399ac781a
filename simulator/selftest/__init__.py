"""A replica of the KVM selftest ``access_tracking_perf_test`` on the simulated machine.

``tools/testing/selftests/kvm/access_tracking_perf_test.c`` (6.16, with its MGLRU mode, plus
the ``-p`` aging benchmark of the v4–v8 "Walk secondary MMU page tables while aging" series)
runs a VM whose vCPUs each touch every page of their memory, marks the memory idle through
``lru_gen`` debugfs aging or ``/sys/kernel/mm/page_idle/bitmap``, and times each phase.
:mod:`.driver` runs the same phases on a :class:`~simulator.machine.Machine`, :mod:`.lrugen`
and :mod:`.page_idle` are the two ways of marking memory idle, :mod:`.output` prints and saves
the results, and :mod:`.cmd` is ``mglru-sim selftest access-tracking``. :mod:`.calibration`
fits the x86 TDP MMU costs to the published runs (``make calibrate``, docs/calibration.md) and
:mod:`.figure` draws the fit's shape.
"""

from simulator.selftest.driver import (
    AccessTracking,
    SelftestParams,
    SelftestResult,
    selftest_scenario,
)

__all__ = ["AccessTracking", "SelftestParams", "SelftestResult", "selftest_scenario"]
