"""GPU probes (NVML → nvidia-smi → none) and psutil system figures."""

from __future__ import annotations

import os
import stat
import sys
import types
from pathlib import Path

import pytest

from conductor_tui.providers import gpu as gpu_mod
from conductor_tui.providers.gpu import (
    GpuProbe,
    GpuSample,
    NoGpuProbe,
    NvidiaSmiProbe,
    NvmlProbe,
    detect_gpu_probe,
    parse_nvidia_smi,
)
from conductor_tui.providers.system import SystemSample, system_sample
from tests.fakes.gpu import RTX_4090, FakeGpuProbe

MIB = 1024 * 1024


@pytest.fixture(autouse=True)
def _forget_detected_probe():
    """detect_gpu_probe() caches per process: never leak a stubbed probe into other tests."""
    gpu_mod._detected = None
    yield
    gpu_mod._detected = None


# captured from real machines (nvidia-smi --query-gpu=... --format=csv,noheader,nounits)
SMI_TWO_GPUS = """\
NVIDIA GeForce RTX 4090, 5631, 24564, 37, 54
NVIDIA RTX A6000, 120, 49140, 0, 33
"""
SMI_NA = """\
NVIDIA GeForce RTX 3060 Laptop GPU, 4100, 6144, [N/A], [N/A]
Tesla T4, [Not Supported], 15360, 5, 41
"""


def test_parse_nvidia_smi_two_gpus():
    samples = parse_nvidia_smi(SMI_TWO_GPUS)
    assert samples == [
        GpuSample("NVIDIA GeForce RTX 4090", 5631 * MIB, 24564 * MIB, 37.0, 54.0),
        GpuSample("NVIDIA RTX A6000", 120 * MIB, 49140 * MIB, 0.0, 33.0),
    ]
    assert samples[0].memory_fraction == pytest.approx(5631 / 24564)


def test_parse_nvidia_smi_not_available_fields_are_none():
    laptop, tesla = parse_nvidia_smi(SMI_NA)
    assert laptop.utilization is None and laptop.temperature is None
    assert laptop.memory_used == 4100 * MIB
    assert tesla.memory_used is None and tesla.memory_fraction is None
    assert tesla.memory_total == 15360 * MIB and tesla.utilization == 5.0


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n\n",
        "No devices were found\n",
        "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n",
    ],
)
def test_parse_nvidia_smi_without_gpus(text: str):
    assert parse_nvidia_smi(text) == []


def test_parse_nvidia_smi_skips_malformed_lines():
    assert [s.name for s in parse_nvidia_smi("garbage\nGPU X, 1, 2, 3, 4\n, 1, 2, 3\n")] == ["GPU X"]


def _script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "bin" / "nvidia-smi"
    path.parent.mkdir(exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def no_nvml(monkeypatch: pytest.MonkeyPatch):
    """Make ``import pynvml`` fail, as on a machine without the library."""
    monkeypatch.setitem(sys.modules, "pynvml", None)


def test_detect_falls_back_to_nvidia_smi(tmp_path, monkeypatch, no_nvml, capfd):
    script = _script(tmp_path, f"cat <<'EOF'\n{SMI_TWO_GPUS}EOF\n")
    monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}{os.environ['PATH']}")
    probe = detect_gpu_probe(refresh=True)
    assert probe.kind == "nvidia-smi"
    assert probe.description == "NVIDIA GeForce RTX 4090 ×2"
    assert [s.name for s in probe.sample()] == ["NVIDIA GeForce RTX 4090", "NVIDIA RTX A6000"]
    assert isinstance(probe, GpuProbe)
    assert capfd.readouterr().err == ""


def test_detect_with_nothing_is_no_gpu_quietly(tmp_path, monkeypatch, no_nvml, capfd):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    probe = detect_gpu_probe(refresh=True)
    assert (probe.kind, probe.description, probe.sample()) == ("none", "no GPU detected", [])
    assert detect_gpu_probe() is probe  # cached
    out = capfd.readouterr()
    assert out.err == "" and out.out == ""


def test_detect_when_nvidia_smi_fails_is_no_gpu(tmp_path, monkeypatch, no_nvml, capfd):
    script = _script(tmp_path, "echo 'NVIDIA-SMI has failed' >&2\nexit 9\n")
    monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}{os.environ['PATH']}")
    assert detect_gpu_probe(refresh=True).kind == "none"
    assert capfd.readouterr().err == ""


def test_gpu_can_be_switched_off(monkeypatch):
    monkeypatch.setenv("CONDUCTOR_TUI_GPU", "none")
    probe = detect_gpu_probe(refresh=True)
    assert probe.kind == "none" and "switched off" in probe.description


def test_real_environment_detection_never_raises(capfd):
    probe = detect_gpu_probe(refresh=True)
    assert probe.kind in {"nvml", "nvidia-smi", "none"}
    assert isinstance(probe.sample(), list)
    assert capfd.readouterr().err == ""


def test_nvidia_smi_probe_survives_a_hang_and_a_missing_binary(tmp_path):
    hang = _script(tmp_path, "sleep 5\n")
    assert NvidiaSmiProbe(str(hang), timeout=0.2).sample() == []
    assert NvidiaSmiProbe(str(tmp_path / "missing")).sample() == []


class _StubNvml(types.SimpleNamespace):
    """Stands in for the NVML C library (pynvml's functions), not for any network."""

    NVML_TEMPERATURE_GPU = 0

    def __init__(self, gpus: list[dict], *, fail_init: bool = False):
        super().__init__(gpus=gpus, fail_init=fail_init, shutdown=0)

    def nvmlInit(self):
        if self.fail_init:
            raise RuntimeError("NVML Shared Library Not Found")

    def nvmlShutdown(self):
        self.shutdown += 1

    def nvmlDeviceGetCount(self):
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, i):
        return i

    def nvmlDeviceGetName(self, h):
        return self.gpus[h]["name"]

    def nvmlDeviceGetMemoryInfo(self, h):
        g = self.gpus[h]
        if "used" not in g:
            raise RuntimeError("Not Supported")
        return types.SimpleNamespace(used=g["used"], total=g["total"], free=g["total"] - g["used"])

    def nvmlDeviceGetUtilizationRates(self, h):
        return types.SimpleNamespace(gpu=self.gpus[h]["util"], memory=0)

    def nvmlDeviceGetTemperature(self, h, sensor):
        return self.gpus[h]["temp"]


def test_nvml_probe_reads_every_device(monkeypatch):
    stub = _StubNvml(
        [
            {
                "name": b"NVIDIA GeForce RTX 4090",
                "used": 3 * 1024**3,
                "total": 24 * 1024**3,
                "util": 12,
                "temp": 51,
            },
            {"name": "Tesla T4", "util": 0, "temp": 30},  # memory not supported
        ]
    )
    monkeypatch.setitem(sys.modules, "pynvml", stub)
    probe = detect_gpu_probe(refresh=True)
    assert isinstance(probe, NvmlProbe)
    assert probe.kind == "nvml" and probe.description == "NVIDIA GeForce RTX 4090 ×2"
    first, second = probe.sample()
    assert first == GpuSample("NVIDIA GeForce RTX 4090", 3 * 1024**3, 24 * 1024**3, 12.0, 51.0)
    assert second.memory_used is None and second.temperature == 30.0
    probe.close()
    assert stub.shutdown == 1


def test_nvml_without_driver_or_devices_falls_through(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setitem(sys.modules, "pynvml", _StubNvml([], fail_init=True))
    assert NvmlProbe.open() is None
    stub = _StubNvml([])
    monkeypatch.setitem(sys.modules, "pynvml", stub)
    assert NvmlProbe.open() is None and stub.shutdown == 1
    assert detect_gpu_probe(refresh=True).kind == "none"


def test_fake_gpu_probe_is_deterministic():
    probe = FakeGpuProbe()
    assert probe.kind == "nvml" and probe.sample() == probe.sample() == [RTX_4090]
    frames = FakeGpuProbe(frames=[[RTX_4090], []])
    assert [frames.sample(), frames.sample(), frames.sample()] == [[RTX_4090], [], []]
    none = FakeGpuProbe.none()
    assert (none.kind, none.description, none.sample()) == ("none", "no GPU detected", [])
    assert isinstance(probe, GpuProbe) and isinstance(NoGpuProbe(), GpuProbe)


def test_system_sample_reports_cpu_and_ram():
    system_sample()  # prime psutil's cpu_percent
    sample = system_sample()
    assert isinstance(sample, SystemSample)
    assert 0.0 <= sample.cpu_percent <= 100.0
    assert 0 < sample.memory_used <= sample.memory_total
    assert 0.0 < sample.memory_fraction <= 1.0
    assert sample.memory_percent == pytest.approx(sample.memory_fraction * 100)
    assert sample.cpu_count >= 1


def test_system_sample_survives_psutil_failures(monkeypatch):
    import psutil

    def boom(*a, **k):
        raise OSError("no /proc")

    monkeypatch.setattr(psutil, "cpu_percent", boom)
    monkeypatch.setattr(psutil, "virtual_memory", boom)
    sample = system_sample()
    assert (sample.cpu_percent, sample.memory_used, sample.memory_total) == (0.0, 0, 0)
    assert sample.memory_fraction == 0.0
