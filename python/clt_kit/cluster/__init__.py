"""Executing a sweep's runs elsewhere than in the planning process: job files (jobs.py) and Slurm (slurm.py)."""
