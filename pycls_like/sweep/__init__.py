"""Sweeps: sample a population from a design space, train it anywhere, collect one table.

A sweep is a directory (DESIGN.md): `sweep.yaml`, one `runs/<id>/` per sampled model, and
`results.csv`. Modules, in lifecycle order: config (+ pycls_sweep for pycls files), setup,
claims + rundir (the on-disk protocol that makes every step resumable), worker (one run),
launch with launch_local / launch_ray / launch_slurm (placement only), progress, collect,
status, commands (`pycls-like sweep`). Importing this package imports nothing heavy.
"""
