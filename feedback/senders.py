"""Pluggable senders of personal feedback links (settings.XW_FEEDBACK_SENDER, a dotted path).

A sender returns the channel name it used, or "" when it cannot reach the customer (no
e-mail address, say): the request is then skipped, not retried. Raising means "try later".
SMS or WeChat senders subclass `BaseSender` the same way.
"""

from __future__ import annotations

import logging
from functools import lru_cache

from django.conf import settings
from django.core.mail import send_mail
from django.utils import translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from accounts.models import Business
from customers.models import Customer

logger = logging.getLogger(__name__)


class BaseSender:
    channel = ""

    def send(self, *, customer: Customer, business: Business, url: str) -> str:
        raise NotImplementedError

    @staticmethod
    def subject(business: Business) -> str:
        with translation.override(business.language):
            return _("How was your visit to %(business)s?") % {"business": business.name}

    @staticmethod
    def message(*, customer: Customer, business: Business, url: str) -> str:
        with translation.override(business.language):
            return _(
                "Hello %(name)s, thank you for visiting %(business)s. "
                "Would you tell us how it went? It takes a minute: %(url)s"
            ) % {"name": customer.name, "business": business.name, "url": url}


class LogSender(BaseSender):
    """The default: writes the message to the log, sends nothing (no paid service needed)."""

    channel = "log"

    def send(self, *, customer: Customer, business: Business, url: str) -> str:
        logger.info(
            "feedback request for customer %s of business %s: %s",
            customer.pk,
            business.pk,
            self.message(customer=customer, business=business, url=url),
        )
        return self.channel


class EmailSender(BaseSender):
    """E-mail through Django's mail backend (EMAIL_* settings); customers without e-mail are
    skipped."""

    channel = "email"

    def send(self, *, customer: Customer, business: Business, url: str) -> str:
        if not customer.email:
            return ""
        send_mail(
            self.subject(business),
            self.message(customer=customer, business=business, url=url),
            None,  # DEFAULT_FROM_EMAIL
            [customer.email],
        )
        return self.channel


@lru_cache(maxsize=4)
def _sender_class(path: str) -> type[BaseSender]:
    return import_string(path)


def get_sender() -> BaseSender:
    return _sender_class(settings.XW_FEEDBACK_SENDER)()
