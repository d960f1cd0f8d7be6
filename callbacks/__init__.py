"""Callbacks, one module per area, mirroring components/."""
