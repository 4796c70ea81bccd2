"""/api/docs/ works without internet: Swagger UI comes from the project's static files."""

import re

from django.contrib.staticfiles import finders


def test_api_docs_load_swagger_ui_from_the_project(tea, client_for):
    body = client_for(tea.owner).get("/api/docs/").content.decode()
    assert "cdn" not in body.lower()
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', body)
    assert any("swagger-ui-bundle.js" in a for a in assets)
    for asset in assets:
        assert finders.find(asset.removeprefix("/static/")), asset
