"""Shared library of the RLNAS reimplementation: nothing here imports a search-space package."""
