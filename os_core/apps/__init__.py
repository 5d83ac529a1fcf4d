"""Running unmodified NetQASM SDK applications on qnodeos nodes (the CNPU / application-host side)."""
