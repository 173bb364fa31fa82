"""Edge clusters (TPI-LLM): tensor parallelism over a few CPU nodes joined by a slow network,
with star/tree/ring all-reduce over a topology and a sliding window of resident weights."""
