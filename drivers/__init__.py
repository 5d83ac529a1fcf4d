"""qnodeos.drivers: built-in QDevice drivers (Cython mock NV / trapped-ion devices, lab shims)."""
