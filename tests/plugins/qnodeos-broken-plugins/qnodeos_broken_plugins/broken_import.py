"""Fails at import: a vendor SDK it needs is not installed."""
import qnodeos_nonexistent_vendor_sdk  # noqa: F401
