"""Benchmarks for the lab (``make bench`` runs ``python -m bench``); results go to ``bench/results/``."""
