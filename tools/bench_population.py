"""Population throughput: one population of models trained three ways, on GPUs or on CPU.

    pycls    pycls's way: one run at a time per GPU (on CPU: one at a time), a fresh process
             each (`python -m pycls_like train`), its data read from disk as pycls reads CIFAR
    default  the project's default: `python -m pycls_like sweep launch` (workers that stay
             alive run after run; on GPUs the runs per GPU are measured, sweep/packing.py)
    bare     upper bound: forward + backward + step only (no evaluation, metrics, checkpoints
             or augmentation), the same models, in as many processes as the default way used

The synthetic images are generated once before the three (timed apart) and every way reads
them from the same files. Prints, per population and way: models finished, wall seconds,
models/hour, aggregate images/s, GPU utilization and peak memory (CUDA, from nvidia-smi),
and models/hour relative to pycls's way; results.json in --out.

    python tools/bench_population.py                  # sizes for the device (gpu or cpu)
    python tools/bench_population.py --size smoke     # seconds on CPU (the CI smoke test)
    python tools/bench_population.py --populations small --budget 90
"""

import argparse
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from pycls_like.cores import available_cores

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Population:
    """One population: a design space, a flop band, and how each model trains."""

    name: str
    space: str
    n: int
    flops: tuple[float, float]
    n_train: int
    n_test: int
    epochs: int
    batch: int


# gpu: the issue's sizes (24 CIFAR-scale models at 4-40 MF, 32 px, 8,000 images x 2 epochs;
# 8 models at 200-800 MF, 224 px, 2,000 images x 1 epoch; batch 128). cpu: what 2 cores
# train in minutes. smoke: seconds, so CI keeps the tool working.
SIZES = {
    "gpu": (
        Population("small", "cifar_regnetx", 24, (4e6, 40e6), 8000, 1000, 2, 128),
        Population("large", "regnetx", 8, (200e6, 800e6), 2000, 250, 1, 128),
    ),
    "cpu": (
        Population("small", "cifar_regnetx", 6, (4e6, 12e6), 1024, 256, 1, 64),
        Population("large", "regnetx", 2, (200e6, 300e6), 64, 32, 1, 32),
    ),
    "smoke": (Population("small", "cifar_regnetx", 3, (4e6, 8e6), 128, 64, 1, 64),),
}
WAYS = ("pycls", "default", "bare")


def sweep_mapping(pop: Population, sweep_dir: Path, device: str) -> dict[str, Any]:
    """The population as a sweep config: what a user would write."""
    return {
        "name": pop.name,
        "dir": str(sweep_dir),
        "space": pop.space,
        "n": pop.n,
        "seed": 0,
        "constraints": {"flops": list(pop.flops)},
        "base": {
            "data": {"dataset": "synthetic", "n_train": pop.n_train, "n_test": pop.n_test},
            "optim": {"epochs": pop.epochs},
            "train": {"batch_size": pop.batch},
            "device": device,
        },
        "launcher": {"type": "local"},
    }


def run_configs(sweep_dir: Path) -> list[Path]:
    return sorted((sweep_dir / "runs").glob("*/config.yaml"))


def finished(sweep_dir: Path) -> int:
    """Runs of the sweep with a complete (or diverged) result."""
    done = 0
    for path in (sweep_dir / "runs").glob("*/result.json"):
        with contextlib.suppress(OSError, ValueError):  # being written: not finished yet
            done += json.loads(path.read_text()).get("status") in ("complete", "diverged")
    return done


class GpuMonitor:
    """nvidia-smi sampling in the background: mean utilization (%) and peak memory (MiB)."""

    def __init__(self, log: Path) -> None:
        self.log, self.proc = log, None
        if shutil.which("nvidia-smi"):
            query = "--query-gpu=index,utilization.gpu,memory.used"
            cmd = ["nvidia-smi", query, "--format=csv,noheader,nounits", "-lms", "500"]
            with open(log, "w") as f:
                self.proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.DEVNULL)

    def stop(self) -> dict[str, float | None]:
        if self.proc is None:
            return {"gpu_util_pct": None, "gpu_mem_mib": None}
        self.proc.terminate()
        self.proc.wait(timeout=10)
        return gpu_figures(self.log.read_text())


def gpu_figures(text: str) -> dict[str, float | None]:
    """Mean utilization over samples and GPUs; peak memory of any GPU (nvidia-smi CSV rows
    `index, util, mem`)."""
    util, mem = [], []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3 and all(p.replace(".", "").isdigit() for p in parts):
            util.append(float(parts[1]))
            mem.append(float(parts[2]))
    if not util:
        return {"gpu_util_pct": None, "gpu_mem_mib": None}
    return {"gpu_util_pct": sum(util) / len(util), "gpu_mem_mib": max(mem)}


def gpu_ids(device: str) -> list[str]:
    if device != "cuda":
        return []
    import torch

    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env:
        return [g.strip() for g in env.split(",") if g.strip()]
    return [str(i) for i in range(torch.cuda.device_count())]


def cores() -> int:
    return available_cores()


def stop_group(proc: subprocess.Popen) -> None:
    """Ctrl-C twice (the launcher's 'stop now'), then kill what is left."""
    for _ in range(2):
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            time.sleep(1.0)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def way_pycls(sweep_dir: Path, device: str, env: dict[str, str], deadline: float) -> int:
    """One fresh `pycls_like train` process per run, one at a time per GPU (or on the CPU)."""
    slots = gpu_ids(device) or [None]
    threads = max(1, cores() // len(slots))
    todo, running = list(run_configs(sweep_dir)), {}
    while (todo or running) and time.time() < deadline:
        for slot in slots:
            if slot not in running and todo:
                config = todo.pop(0)
                cmd = [sys.executable, "-m", "pycls_like", "train", str(config), "--out"]
                cmd += [str(config.parent), "-q", "--threads", str(threads)]
                slot_env = {**env, "CUDA_VISIBLE_DEVICES": slot if slot is not None else ""}
                if device == "cpu":
                    slot_env.pop("CUDA_VISIBLE_DEVICES")
                running[slot] = subprocess.Popen(cmd, env=slot_env, stdout=subprocess.DEVNULL)
        for slot, proc in list(running.items()):
            if proc.poll() is not None:
                del running[slot]
        time.sleep(0.05)
    for proc in running.values():
        proc.kill()
        proc.wait()
    return finished(sweep_dir)


def way_default(sweep_yaml: Path, sweep_dir: Path, env: dict[str, str], deadline: float) -> int:
    """`sweep launch` as a user runs it; returns the worker processes it used."""
    cmd = [sys.executable, "-m", "pycls_like", "sweep", "launch", str(sweep_yaml)]
    with open(sweep_dir / "launch.log", "w") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            proc.wait(timeout=max(1.0, deadline - time.time()))
        except subprocess.TimeoutExpired:
            stop_group(proc)
    return len(list((sweep_dir / "logs").glob("worker-*.log")))


def way_bare(
    configs: list[Path], procs: int, device: str, env: dict[str, str], deadline: float
) -> int:
    """`procs` processes train the models round-robin with the bare loop (spread over the
    GPUs as the default way's workers are); models finished."""
    gpus, running = gpu_ids(device), []
    for index in range(procs):
        cmd = [sys.executable, __file__, "--bare-worker", str(index), str(procs)]
        cmd += [str(c) for c in configs]
        proc_env = {**env, "CUDA_VISIBLE_DEVICES": gpus[index % len(gpus)]} if gpus else env
        running.append(subprocess.Popen(cmd, env=proc_env, stdout=subprocess.PIPE, text=True))
    done = 0
    for proc in running:
        try:
            out, _ = proc.communicate(timeout=max(1.0, deadline - time.time()))
            done += int(out.strip().splitlines()[-1]) if proc.returncode == 0 else 0
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
    return done


def bare_worker(index: int, procs: int, configs: list[str]) -> int:
    """Train configs index, index+procs, ... with forward/backward/step only; prints the count."""
    import torch
    from bench_train import bare_steps  # tools/ is this script's path: one bare loop for both

    from pycls_like.data.cache import cached_data
    from pycls_like.engine.config import load_run_config
    from pycls_like.engine.optim import build_optimizer
    from pycls_like.engine.trainer import resolve_device
    from pycls_like.models import build_model

    done = 0
    for path in configs[index::procs]:
        cfg = load_run_config(path)
        device = resolve_device(cfg.device)
        cuda = device.type == "cuda"
        if device.type == "cpu":
            torch.set_num_threads(max(1, cores() // procs))
        torch.backends.cudnn.benchmark = True
        data_cfg = dataclasses.replace(cfg.data, augment=False)
        res = cfg.model.resolution
        data = cached_data(data_cfg, resolution=res, device=device, channels_last=True)
        batches = list(data.train_batches(cfg.train.batch_size, seed=0))  # normalized, made once
        torch.manual_seed(cfg.seed)
        model = build_model(cfg.model).to(device, memory_format=torch.channels_last)
        optimizer = build_optimizer(model, cfg.optim)
        for _ in range(cfg.optim.epochs):
            bare_steps(model, optimizer, batches, bf16=cuda)
        if cuda:
            torch.cuda.synchronize(device)
        done += 1
    print(done, flush=True)
    return 0


def prepare(pop: Population, out: Path, device: str, env: dict[str, str]) -> dict[str, Any]:
    """Sweep configs and run dirs for the pycls and default ways; the images generated once."""
    from pycls_like.cli import main
    from pycls_like.data import DataConfig, build_data

    info: dict[str, Any] = {}
    for way in ("pycls", "default"):
        sweep_yaml = out / pop.name / f"{way}.yaml"
        sweep_yaml.parent.mkdir(parents=True, exist_ok=True)
        mapping = sweep_mapping(pop, out / pop.name / way, device)
        sweep_yaml.write_text(yaml.safe_dump(mapping))
        if main(["sweep", "setup", str(sweep_yaml), "-q"]) != 0:
            raise SystemExit(f"sweep setup failed for {sweep_yaml}")
    configs = run_configs(out / pop.name / "pycls")
    from pycls_like.engine.config import load_run_config

    resolution = load_run_config(configs[0]).model.resolution
    t0 = time.perf_counter()
    os.environ["PYCLS_LIKE_DATA_CACHE"] = env["PYCLS_LIKE_DATA_CACHE"]
    import torch

    build_data(
        DataConfig(n_train=pop.n_train, n_test=pop.n_test),
        resolution=resolution,
        device=torch.device("cpu"),
    )
    info["data_generation_s"] = time.perf_counter() - t0
    info["resolution"] = resolution
    return info


def bench(pop: Population, out: Path, device: str, budget: float, ways: list[str]) -> list[dict]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYCLS_LIKE_DATA_CACHE=str(out / "data_cache"))
    info = prepare(pop, out, device, env)
    configs = run_configs(out / pop.name / "pycls")
    images_per_model = (pop.n_train // pop.batch) * pop.batch * pop.epochs
    print(
        f"population {pop.name}: {len(configs)} models of {pop.space} at {pop.flops[0] / 1e6:g}-"
        f"{pop.flops[1] / 1e6:g} MF, {info['resolution']} px, {pop.n_train} images x "
        f"{pop.epochs} epoch(s), batch {pop.batch}; images generated once in "
        f"{info['data_generation_s']:.1f} s",
        flush=True,
    )
    rows, procs = [], 1
    for way in ways:
        monitor = GpuMonitor(out / pop.name / f"{way}-nvidia-smi.csv")
        t0 = time.time()
        deadline = t0 + budget
        if way == "pycls":
            done = way_pycls(out / pop.name / "pycls", device, env, deadline)
        elif way == "default":
            sweep_dir = out / pop.name / "default"
            procs = way_default(out / pop.name / "default.yaml", sweep_dir, env, deadline)
            done = finished(sweep_dir)
        else:
            done = way_bare(configs, procs, device, env, deadline)
        wall = time.time() - t0
        rows.append(
            {
                "population": pop.name,
                "way": way,
                "models": done,
                "of": len(configs),
                "processes": procs if way != "pycls" else max(1, len(gpu_ids(device))),
                "wall_s": wall,
                "models_per_hour": 3600 * done / wall,
                "images_per_s": done * images_per_model / wall,
                **monitor.stop(),
                **{k: v for k, v in asdict(pop).items() if k != "name"},
                **info,
            }
        )
        print_row(rows[-1], rows[0] if rows[0]["way"] == "pycls" else None)
    return rows


def print_row(row: dict[str, Any], pycls: dict[str, Any] | None) -> None:
    util = f"{row['gpu_util_pct']:5.1f}" if row["gpu_util_pct"] is not None else "    -"
    mem = f"{row['gpu_mem_mib']:8.0f}" if row["gpu_mem_mib"] is not None else "       -"
    ratio = ""
    if pycls is not None and pycls["models_per_hour"] > 0:
        ratio = f"x{row['models_per_hour'] / pycls['models_per_hour']:.2f}"
    print(
        f"  {row['way']:8s} {row['models']:3d}/{row['of']:<3d} models  {row['processes']:3d} proc  "
        f"{row['wall_s']:8.1f} s  {row['models_per_hour']:9.1f} models/h  "
        f"{row['images_per_s']:9.1f} img/s  util {util}%  mem {mem} MiB  {ratio}",
        flush=True,
    )


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--bare-worker":
        return bare_worker(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--size", choices=tuple(SIZES), default=None, help="default: by device")
    parser.add_argument("--populations", default=None, help="comma list (default: all)")
    parser.add_argument("--ways", default=",".join(WAYS), help="comma list of pycls,default,bare")
    parser.add_argument("--budget", type=float, default=600, help="seconds per way at most")
    parser.add_argument("--out", type=Path, default=Path("bench_population_out"))
    args = parser.parse_args()
    device = args.device
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    pops = SIZES[args.size or ("gpu" if device == "cuda" else "cpu")]
    if args.populations:
        wanted = args.populations.split(",")
        unknown = sorted(set(wanted) - {p.name for p in pops})
        if unknown:
            parser.error(f"--populations: unknown {', '.join(unknown)}")
        pops = tuple(p for p in pops if p.name in wanted)
    ways = args.ways.split(",")
    if not set(ways) <= set(WAYS):
        parser.error(f"--ways: choose from {', '.join(WAYS)}")
    if args.out.exists() and any(args.out.iterdir()):  # finished runs would not be redone
        parser.error(f"--out {args.out}: exists and is not empty")
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for pop in pops:
        rows += bench(pop, args.out, device, args.budget, ways)
    (args.out / "results.json").write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
