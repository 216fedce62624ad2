"""A container after its first event: garbage collection resumes, with the start-up's objects frozen.

``app.py`` turns collection off while the container starts (imports, models, schemas and
clients are made once and kept). After the first event, ``gc.freeze()`` moves everything
that exists by then out of the collector's view for good, and collection resumes for what
requests make from then on.
"""

from __future__ import annotations

import gc

_resumed = False


def after_first_event() -> None:
    global _resumed
    if _resumed:
        return
    _resumed = True
    gc.freeze()
    gc.enable()
