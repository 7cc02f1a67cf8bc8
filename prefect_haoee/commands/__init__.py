"""Implementations of the ``haoee`` commands (floor 4: may import every floor below)."""
