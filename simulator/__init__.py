"""mglru-sim: a discrete-event simulator of Linux MGLRU page aging on hosts that run KVM guests.

The package is layered (DESIGN §4): ``config`` and ``costs`` hold every knob (``config`` builds
its keys from the registries, which declare their parameters with ``params``); ``mm`` models the
primary MMU and MGLRU (mm/vmscan.c); ``kvm`` models the secondary MMU, mmu_lock, TLBs and the
mmu_notifier dispatch; ``machine`` wires one run; ``runner`` runs it; ``output`` owns all file
writing; ``cli`` is thin. Model code never touches files and never imports ``runner``,
``output``, ``cli`` or ``plots``.
"""

__version__ = "0.1.0"
