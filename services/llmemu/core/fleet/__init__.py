"""Fleets: replicas on one virtual clock behind a router, disaggregated prefill and decode
pools joined by a link, and prompts with shared prefixes."""
