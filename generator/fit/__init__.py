"""Fitting a design to a board: per-family resource estimates and the folding search."""
