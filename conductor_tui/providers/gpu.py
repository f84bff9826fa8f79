"""GPU figures: NVML (``nvidia-ml-py``) → ``nvidia-smi`` → "no GPU detected". No Textual.

Never raises and never writes to stderr: a machine without an NVIDIA driver simply has a probe of kind
``"none"``. Memory is in bytes, utilisation in percent, temperature in °C; a figure the driver does not
report (``[N/A]``, ``[Not Supported]``) is ``None``. For the split of a model between GPU and CPU on any
vendor, use Ollama's ``/api/ps`` (``LoadedModel.vram_fraction``) instead.

    probe = detect_gpu_probe()        # cheap after the first call; sample() is blocking (run in a thread)
    probe.kind, probe.description     # "nvml" | "nvidia-smi" | "none", "NVIDIA RTX 4090" / "no GPU detected"
    probe.sample()                    # [GpuSample(name, memory_used, memory_total, utilization, temperature)]
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "NVIDIA_SMI_QUERY",
    "GpuProbe",
    "GpuSample",
    "NoGpuProbe",
    "NvidiaSmiProbe",
    "NvmlProbe",
    "detect_gpu_probe",
    "parse_nvidia_smi",
]

NVIDIA_SMI_QUERY = [
    "--query-gpu=name,memory.used,memory.total,utilization.gpu,temperature.gpu",
    "--format=csv,noheader,nounits",
]
_MIB = 1024 * 1024


@dataclass(frozen=True)
class GpuSample:
    name: str
    memory_used: int | None  # bytes
    memory_total: int | None  # bytes
    utilization: float | None  # percent
    temperature: float | None  # °C

    @property
    def memory_fraction(self) -> float | None:
        if not self.memory_total or self.memory_used is None:
            return None
        return self.memory_used / self.memory_total


@runtime_checkable
class GpuProbe(Protocol):
    kind: str  # "nvml" | "nvidia-smi" | "none" (tests: "fake")
    description: str

    def sample(self) -> list[GpuSample]: ...


class NoGpuProbe:
    kind = "none"

    def __init__(self, description: str = "no GPU detected"):
        self.description = description

    def sample(self) -> list[GpuSample]:
        return []

    def __repr__(self) -> str:
        return f"NoGpuProbe({self.description!r})"


# ---------------------------------------------------------------------------------------- nvidia-smi


def _number(field: str) -> float | None:
    text = field.strip()
    if not text or text.startswith("[") or text.upper() in {"N/A", "NA"}:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def parse_nvidia_smi(output: str) -> list[GpuSample]:
    """Parse ``nvidia-smi --query-gpu=name,memory.used,memory.total,utilization.gpu,temperature.gpu
    --format=csv,noheader,nounits`` (memory in MiB). Malformed lines are skipped; ``[N/A]`` → None."""
    samples = []
    for line in output.splitlines():
        if not line.strip():
            continue
        # the name may itself contain commas: the last four fields are numbers
        parts = line.rsplit(",", 4)
        if len(parts) != 5:
            continue
        name, used, total, util, temp = parts
        name = name.strip()
        if not name or name.startswith("["):
            continue
        used_mib, total_mib = _number(used), _number(total)
        samples.append(
            GpuSample(
                name=name,
                memory_used=None if used_mib is None else int(used_mib * _MIB),
                memory_total=None if total_mib is None else int(total_mib * _MIB),
                utilization=_number(util),
                temperature=_number(temp),
            )
        )
    return samples


class NvidiaSmiProbe:
    kind = "nvidia-smi"

    def __init__(self, executable: str = "nvidia-smi", *, timeout: float = 2.0):
        self.executable = executable
        self.timeout = timeout
        self.description = "NVIDIA GPU (nvidia-smi)"

    def _run(self) -> str | None:
        try:
            result = subprocess.run(
                [self.executable, *NVIDIA_SMI_QUERY],
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.SubprocessError, ValueError):
            return None
        return result.stdout if result.returncode == 0 else None

    def sample(self) -> list[GpuSample]:
        try:
            output = self._run()
            return parse_nvidia_smi(output) if output else []
        except Exception:
            return []

    def __repr__(self) -> str:
        return f"NvidiaSmiProbe({self.executable!r})"


# ---------------------------------------------------------------------------------------- NVML


class NvmlProbe:
    """NVML through ``pynvml`` (package ``nvidia-ml-py``), initialised once, handles cached."""

    kind = "nvml"

    def __init__(self, nvml: Any, handles: list[Any]):
        self._nvml = nvml
        self._handles = handles
        self._lock = threading.Lock()
        names = [self._name(h) for h in handles]
        self.description = names[0] + (f" ×{len(names)}" if len(names) > 1 else "") if names else "NVIDIA GPU"

    @classmethod
    def open(cls) -> NvmlProbe | None:
        """Initialise NVML; ``None`` when the library, the driver or a GPU is missing."""
        try:
            import pynvml  # lazy: importing is cheap, but initialising needs the driver
        except Exception:
            return None
        try:
            pynvml.nvmlInit()
        except Exception:
            return None
        try:
            count = pynvml.nvmlDeviceGetCount()
            handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        except Exception:
            handles = []
        if not handles:
            with contextlib.suppress(Exception):
                pynvml.nvmlShutdown()
            return None
        return cls(pynvml, handles)

    def _name(self, handle: Any) -> str:
        try:
            name = self._nvml.nvmlDeviceGetName(handle)
        except Exception:
            return "NVIDIA GPU"
        return name.decode(errors="replace") if isinstance(name, bytes) else str(name)

    def _one(self, handle: Any) -> GpuSample:
        nvml = self._nvml
        used = total = None
        util = temp = None
        with contextlib.suppress(Exception):
            mem = nvml.nvmlDeviceGetMemoryInfo(handle)
            used, total = int(mem.used), int(mem.total)
        with contextlib.suppress(Exception):
            util = float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
        with contextlib.suppress(Exception):
            temp = float(nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU))
        return GpuSample(self._name(handle), used, total, util, temp)

    def sample(self) -> list[GpuSample]:
        try:
            with self._lock:
                return [self._one(h) for h in self._handles]
        except Exception:
            return []

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._nvml.nvmlShutdown()

    def __repr__(self) -> str:
        return f"NvmlProbe({self.description!r})"


# ---------------------------------------------------------------------------------------- detection

_detected: GpuProbe | None = None
_detect_lock = threading.Lock()


def detect_gpu_probe(*, refresh: bool = False) -> GpuProbe:
    """The best available probe: NVML, else ``nvidia-smi`` (if it lists a GPU), else none.

    The result is cached for the process (``refresh=True`` detects again). Set
    ``CONDUCTOR_TUI_GPU=none`` to switch GPU figures off."""
    global _detected
    with _detect_lock:
        if _detected is not None and not refresh:
            return _detected
        _detected = _detect()
        return _detected


def _detect() -> GpuProbe:
    try:
        if os.environ.get("CONDUCTOR_TUI_GPU", "").strip().lower() in {"none", "off", "0"}:
            return NoGpuProbe("GPU figures switched off (CONDUCTOR_TUI_GPU)")
        probe = NvmlProbe.open()
        if probe is not None:
            return probe
        smi = shutil.which("nvidia-smi")
        if smi:
            smi_probe = NvidiaSmiProbe(smi)
            samples = smi_probe.sample()
            if samples:
                smi_probe.description = samples[0].name + (f" ×{len(samples)}" if len(samples) > 1 else "")
                return smi_probe
    except Exception:
        pass
    return NoGpuProbe()
