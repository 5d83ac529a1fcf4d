"""Demonstrations run by `qnodeos demo` (and the README's main command)."""
