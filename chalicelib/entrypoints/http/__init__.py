"""HTTP entrypoints: one blueprint per area, registered by ``app.py``."""
