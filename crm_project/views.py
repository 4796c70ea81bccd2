"""Small project-wide views (wiring only)."""

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

FAVICON = settings.BASE_DIR / "static" / "favicon.ico"


@require_GET
@cache_control(public=True, max_age=7 * 24 * 3600)
def favicon(request):
    """Browsers ask for /favicon.ico on every site; answer with the icon, not a 404 page."""
    return HttpResponse(FAVICON.read_bytes(), content_type="image/x-icon")
