"""Deliberately broken qnodeos driver plugins, one module per failure (see pyproject.toml)."""
