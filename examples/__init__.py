"""Examples of using RLNAS beyond the shipped search spaces."""
