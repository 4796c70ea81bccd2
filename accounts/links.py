"""Absolute addresses of public pages (feedback form, member card, report links): one rule
for every app that sends, prints or encodes a link in a QR code."""

from __future__ import annotations

from django.conf import settings


def public_base_url() -> str:
    """XW_PUBLIC_BASE_URL when set, else this machine (`make run` sets it from PORT)."""
    return (settings.XW_PUBLIC_BASE_URL or settings.XW_LOCAL_BASE_URL).rstrip("/")


def absolute_url(path: str, request=None) -> str:
    """XW_PUBLIC_BASE_URL when set; else the host of the request (admin), else this machine."""
    if settings.XW_PUBLIC_BASE_URL or request is None:
        return public_base_url() + path
    return request.build_absolute_uri(path)
