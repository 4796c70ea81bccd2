"""Rate limits of the public feedback form, counted in the cache (CACHE_URL=redis://… when more
than one web process serves; the default local-memory cache counts per process)."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache


def limits() -> dict[str, int]:
    return settings.XW_FEEDBACK_RATE_LIMITS


def client_address(request) -> str:
    """REMOTE_ADDR; behind one trusted reverse proxy (XW_FEEDBACK_TRUST_X_FORWARDED_FOR), the
    address that proxy saw: the last entry of X-Forwarded-For, which the client cannot forge."""
    if settings.XW_FEEDBACK_TRUST_X_FORWARDED_FOR:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        last = forwarded.split(",")[-1].strip()
        if last:
            return last[:64]
    return request.META.get("REMOTE_ADDR", "")[:64] or "unknown"


def _hit(key: str, limit: int, window: int) -> bool:
    """Count one hit; True while within `limit` hits. The window starts at the first hit."""
    full_key = f"xw:feedback:rl:{window}:{key}"
    cache.add(full_key, 0, timeout=window)
    try:
        count = cache.incr(full_key)
    except ValueError:  # expired between add and incr
        cache.set(full_key, 1, timeout=window)
        count = 1
    return count <= limit


def check_post(request, link_key: str) -> int:
    """Count one post; 0 when allowed, else the seconds to wait (for Retry-After).

    Posts refused for their address do not count against the link, so one noisy address
    cannot use up a shop's link limit."""
    conf = limits()
    address = client_address(request)
    if not _hit(f"addr:{address}", conf["address_per_minute"], 60):
        return 60
    if not _hit(f"addr:{address}", conf["address_per_hour"], 3600):
        return 3600
    if not _hit(f"link:{link_key}", conf["link_per_minute"], 60):
        return 60
    return 0
