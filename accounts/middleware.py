from django.utils import translation

from .tenancy import business_for, membership_for


class BusinessMiddleware:
    """Puts `request.business` in place and applies the member's chosen language."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.business = business_for(request.user)
        membership = membership_for(request.user)
        if membership and membership.language:
            translation.activate(membership.language)
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)
