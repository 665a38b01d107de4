"""Executing a sweep's runs elsewhere than in the planning process: job files (jobs.py), accelerate
launch over this machine's GPUs (launch.py) and Slurm (slurm.py)."""
