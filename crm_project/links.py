"""Wiring between sibling apps' public pages (siblings never import each other)."""

from django.utils.translation import gettext as _


def _feedback_link(business, request):
    from feedback.models import FeedbackSettings
    from feedback.services import business_link_url

    settings = FeedbackSettings.objects.filter(business=business).first()
    if settings is not None and not settings.enabled:
        return None
    return _("Tell us how we did"), business_link_url(business=business, request=request)


def wire_public_links() -> None:
    """The member card page links to the business's feedback form."""
    from membership.card import register_card_link

    register_card_link(_feedback_link)
