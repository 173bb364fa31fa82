"""Sweeps over scenario grids, and reports (HTML pages with plots) of their results."""
