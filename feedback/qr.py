"""QR codes of feedback links (segno: pure Python, no Pillow needed for PNG)."""

import io

import segno


def _code(url: str):
    return segno.make_qr(url, error="m")


def qr_svg(url: str, *, scale: int = 6) -> bytes:
    out = io.BytesIO()
    _code(url).save(out, kind="svg", scale=scale, border=4, xmldecl=False, svgclass="xw-qr")
    return out.getvalue()


def qr_png(url: str, *, scale: int = 12) -> bytes:
    out = io.BytesIO()
    _code(url).save(out, kind="png", scale=scale, border=4)
    return out.getvalue()
