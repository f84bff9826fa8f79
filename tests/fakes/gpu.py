"""A deterministic GPU probe for tests and screenshots (same interface as providers.gpu probes)."""

from __future__ import annotations

from collections.abc import Sequence

from conductor_tui.providers.gpu import GpuSample

GIB = 1024**3

RTX_4090 = GpuSample(
    name="NVIDIA GeForce RTX 4090",
    memory_used=int(5.5 * GIB),
    memory_total=24 * GIB,
    utilization=37.0,
    temperature=54.0,
)
RTX_3060_LAPTOP = GpuSample(
    name="NVIDIA GeForce RTX 3060 Laptop GPU",
    memory_used=int(4.1 * GIB),
    memory_total=6 * GIB,
    utilization=88.0,
    temperature=71.0,
)


class FakeGpuProbe:
    """Returns fixed samples. ``frames``: a list of sample lists, returned in turn (the last repeats).

    ``FakeGpuProbe()`` → one RTX 4090; ``FakeGpuProbe([])`` or ``FakeGpuProbe.none()`` → no GPU."""

    def __init__(
        self,
        samples: Sequence[GpuSample] | None = None,
        *,
        frames: Sequence[Sequence[GpuSample]] | None = None,
        kind: str | None = None,
        description: str | None = None,
    ):
        if frames is None:
            frames = [list(samples) if samples is not None else [RTX_4090]]
        self.frames = [list(f) for f in frames] or [[]]
        first = self.frames[0]
        self.kind = kind or ("nvml" if first else "none")
        self.description = description or (first[0].name if first else "no GPU detected")
        self.calls = 0

    @classmethod
    def none(cls) -> FakeGpuProbe:
        return cls([])

    def sample(self) -> list[GpuSample]:
        frame = self.frames[min(self.calls, len(self.frames) - 1)]
        self.calls += 1
        return list(frame)
