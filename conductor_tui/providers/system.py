"""CPU and RAM figures through psutil. No Textual; never raises.

``cpu_percent`` is the system-wide use since the previous call (psutil's non-blocking mode), so the
first call in a process returns 0.0 — poll it periodically. ``memory_used`` is ``total - available``
(what other programs cannot have), in bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SystemSample", "system_sample"]


@dataclass(frozen=True)
class SystemSample:
    cpu_percent: float
    memory_used: int  # bytes
    memory_total: int  # bytes
    cpu_count: int = 0

    @property
    def memory_fraction(self) -> float:
        return self.memory_used / self.memory_total if self.memory_total else 0.0

    @property
    def memory_percent(self) -> float:
        return 100.0 * self.memory_fraction


def system_sample() -> SystemSample:
    """CPU % (since the last call), RAM used/total. Zeros if psutil cannot tell."""
    try:
        import psutil
    except Exception:
        return SystemSample(0.0, 0, 0)
    cpu = 0.0
    used = total = count = 0
    try:
        cpu = float(psutil.cpu_percent(interval=None))
    except Exception:
        pass
    try:
        mem = psutil.virtual_memory()
        total = int(mem.total)
        used = int(mem.total - mem.available)
    except Exception:
        pass
    try:
        count = int(psutil.cpu_count() or 0)
    except Exception:
        pass
    return SystemSample(cpu_percent=cpu, memory_used=used, memory_total=total, cpu_count=count)
