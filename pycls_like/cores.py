"""How many CPU cores this process may use: one answer for the trainer, the profiler, the local
launcher, the image-folder loader and the demo. Under `taskset` or a cgroup CPU set the answer is
the allowed cores, not the machine's (`os.cpu_count`). Torch-free."""

import os


def available_cores() -> int:
    """Cores in this process's affinity mask where the OS has one, else `os.cpu_count()`."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # no affinity call (macOS, Windows)
        return os.cpu_count() or 1
