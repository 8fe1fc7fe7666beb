"""How many runs share one GPU, decided from what the launch's own runs measured.

A small model on a big GPU is bound by kernel launches and Python, not by the GPU: one run
leaves most of it idle, and several runs per GPU add up (issue 15: 12 CIFAR-scale models took
100 s for 8 with one run per GPU, 63 s for all 12 with four). A large model fills the GPU alone.
No fixed number suits both, so the local launcher measures:

1. the first run trains alone on each GPU (level 1): its peak memory bounds how many fit;
2. the level then doubles while the GPU's aggregate work rate (sum over the concurrent runs of
   flops x images/s) grows by at least `MIN_GAIN` per doubling;
3. it settles at the best level measured, within the memory and CPU caps.

Pure functions of measured figures (no torch, no processes), so CPU tests cover every decision.
"""

import statistics
from dataclasses import dataclass, field

# A CUDA context, cuDNN/cuBLAS workspaces and the caching allocator's slack per process, on top
# of the peak the run allocated (measured: ~0.5-1 GB per process on recent CUDA). Generous on
# purpose: an over-packed GPU fails runs (out of memory), an under-packed one is only slower.
CONTEXT_MB = 1024.0
ALLOCATOR_SLACK = 1.25  # reserved / max allocated, a margin for fragmentation
USABLE_MEM = 0.9  # of the GPU's memory; the rest for the driver and other users
MIN_GAIN = 0.10  # a doubling must add 10% aggregate rate: less is noise or contention
MAX_LEVEL = 32  # runs per GPU at most, whatever the caps say


@dataclass(frozen=True)
class RunFigures:
    """What one finished run measured: its peak GPU memory and its work rate."""

    peak_mem_mb: float
    images_per_s: float
    flops: float  # per image (multiply-adds), to compare models of different sizes

    @property
    def work_rate(self) -> float:
        """Multiply-adds per second of forward passes: comparable across model sizes."""
        return self.flops * self.images_per_s


def memory_cap(peak_mem_mb: float, gpu_mem_mb: float | None) -> int:
    """Runs of this peak memory that fit on the GPU together (unknown GPU memory: no cap)."""
    if gpu_mem_mb is None:
        return MAX_LEVEL
    per_run = peak_mem_mb * ALLOCATOR_SLACK + CONTEXT_MB
    return max(1, min(MAX_LEVEL, int(gpu_mem_mb * USABLE_MEM // per_run)))


def cpu_cap(cores: int, gpus: int) -> int:
    """Each packed run needs a core of its own to launch its kernels."""
    return max(1, min(MAX_LEVEL, cores // max(1, gpus)))


@dataclass
class Packer:
    """The runs-per-GPU level of one launch, updated as runs finish.

    `observe(level, figures)` records a run that trained entirely at `level`; `level` is then
    what the launcher should run now. `settled` is true once growing stopped paying off.
    """

    gpu_mem_mb: float | None
    cores: int
    gpus: int
    level: int = 1
    settled: bool = False
    peak_mem_mb: float = 0.0
    rates: dict[int, list[float]] = field(default_factory=dict)  # level -> per-run work rates
    reason: str = "probe: the first run trains alone on each GPU"

    def cap(self) -> int:
        """The most runs per GPU that memory (largest peak seen) and cores allow."""
        return min(memory_cap(self.peak_mem_mb, self.gpu_mem_mb), cpu_cap(self.cores, self.gpus))

    def aggregate(self, level: int) -> float | None:
        """The GPU's measured work rate at `level`: level x the median per-run rate."""
        rates = self.rates.get(level)
        return level * statistics.median(rates) if rates else None

    def needed(self, level: int) -> int:
        """Runs to measure at a level before judging it (more at higher levels: less noise)."""
        return min(level, 3)

    def observe(self, level: int, run: RunFigures) -> int:
        """Record a run measured at `level`; returns the level to run now."""
        self.peak_mem_mb = max(self.peak_mem_mb, run.peak_mem_mb)
        self.rates.setdefault(level, []).append(run.work_rate)
        cap = self.cap()
        if self.level > cap:  # a bigger model arrived: pack fewer
            self.level, self.reason = cap, f"memory: {self.peak_mem_mb:.0f} MB per run fits {cap}"
            return self.level
        if self.settled or level != self.level or len(self.rates[level]) < self.needed(level):
            return self.level
        now = self.aggregate(level)
        assert now is not None
        below = [lv for lv in self.rates if lv < level]
        previous = self.aggregate(max(below)) if below else None
        if previous is not None and now < previous * (1 + MIN_GAIN):
            # Growing did not pay: keep the better of the two and stop.
            self.settled = True
            # More runs that are not slower still hide each run's start and evaluation.
            self.level = level if now > previous else max(below)
            self.reason = (
                f"settled at {self.level}: {max(below)} -> {level} runs per GPU changed the "
                f"aggregate rate x{now / previous:.2f}"
            )
        elif level >= cap:
            self.settled = True
            self.reason = f"capped at {level}: memory and cores allow {cap} runs per GPU"
        else:
            gain = f"x{now / previous:.2f} over {max(below)}" if previous else "alone"
            self.level = min(2 * level, cap)
            self.reason = f"growing: {level} run(s) per GPU measured {gain}; trying {self.level}"
        return self.level


def parse_gpu_memory(nvidia_smi_csv: str) -> list[float]:
    """MiB per GPU from `nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits`."""
    return [float(line) for line in nvidia_smi_csv.split() if line.strip()]
