"""How many instructions a node's trace keeps by default: a module of its own, so that the console
script's help can name the figure without importing the trace (``qnodeos --help`` stays light)."""

#: Rows a trace keeps unless told otherwise (about 30 MB of memory at most).
DEFAULT_MAX_ROWS = 200_000
