"""NanoFlow (Zhu et al., OSDI 2025): nano-batches whose compute-, memory- and
network-bound operations overlap inside one device, each on a share of its units.

- overlap.py: resource lanes, shares R and P(R) (Table 3), the list-scheduling timeline.
- spec.py: a pipeline (nano-batch sizes, per-op splits and shares); the paper's default.
- split.py / pipeline.py: a batch cut into nano-batches, priced and scheduled.
- pricer.py: the `nanoflow` batching policy.  search.py: the automatic pipeline search.
"""
