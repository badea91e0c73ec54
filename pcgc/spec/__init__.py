"""The workflow's specification: what a run is, without running anything.

Configuration and its schema, the network records, hyperparameters, sweeps and their chunk plan,
the metric catalogue, job resources, code provenance and stale locks. Snakemake imports this tier
(and only this tier) while it parses the workflow, which every cluster job does again: nothing here
imports torch, h5py or any other pcgc tier (tests/test_tiers.py).
"""
