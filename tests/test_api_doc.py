"""docs/API.md, the project's own API page, names every route the app serves."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "API.md"


def test_every_route_of_the_app_is_documented_and_no_documented_route_is_missing_from_the_app():
    from app import app  # registers the routes
    from chalicelib.entrypoints.http.routing import ENDPOINTS

    text = DOC.read_text(encoding="utf-8")
    served = {f"{spec.method} {spec.path}" for spec in ENDPOINTS}
    documented = set(re.findall(r"`(GET|POST|PUT|PATCH|DELETE) (/[^\s`?]*)", text))
    documented = {f"{method} {path}" for method, path in documented}
    assert app.routes
    assert served - documented == set(), "routes the app serves that docs/API.md does not describe"
    assert documented - served == set(), "routes docs/API.md describes that the app does not serve"
