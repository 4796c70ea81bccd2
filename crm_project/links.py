"""Wiring between sibling apps' public pages (siblings never import each other)."""

from django.utils.translation import gettext as _


def _feedback_link(business, request):
    from feedback.services import business_link_url, feedback_settings_for

    fs = feedback_settings_for(business)  # one read: whether it is on, and the link's version
    if not fs.enabled:
        return None
    url = business_link_url(business=business, request=request, feedback_settings=fs)
    return _("Tell us how we did"), url


def wire_public_links() -> None:
    """The member card page links to the business's feedback form."""
    from membership.card import register_card_link

    register_card_link(_feedback_link)
