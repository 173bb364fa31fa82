"""Specifications: what a model, a device and a system are. Plain validated data."""
