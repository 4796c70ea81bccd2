import logging

from .services import demo_report_ensure

logger = logging.getLogger(__name__)


def demo_report(sender, *, business, created, **kwargs) -> None:
    """seed_demo: the demo business gets last week's report (built once, then kept)."""
    report = demo_report_ensure(business=business)
    logger.info("demo report %s for %s", report, business.slug)
