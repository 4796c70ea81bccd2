"""How a campaign message is worded and sent.

`render_message` fills the owner's template ({name}, {shop}, {offer}, {code}). E-mail goes
through Django's mail (EMAIL_* settings). An SMS provider plugs in through
`settings.XW_SMS_SENDER` (a dotted path to a `BaseSmsSender` subclass); the default writes
to the log and sends nothing, so no paid service is needed to run XiaoWei.
"""

from __future__ import annotations

import logging
import string
from functools import lru_cache

from django.conf import settings
from django.core.mail import send_mail
from django.utils import translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from customers.models import Customer

logger = logging.getLogger(__name__)


class _Fill(dict):
    def __missing__(self, key: str) -> str:  # validated templates never get here
        return ""


def render_message(campaign, customer: Customer, code: str = "") -> str:
    values = _Fill(name=customer.name, shop=campaign.business.name, offer=campaign.offer, code=code)
    text = string.Formatter().vformat(campaign.message, (), values)
    if code and "{code}" not in campaign.message:
        with translation.override(campaign.business.language):
            text += " " + _("Coupon code: %(code)s") % {"code": code}
    return text


def send_email(campaign, customer: Customer, text: str) -> None:
    send_mail(campaign.business.name[:100], text, None, [customer.email])


class BaseSmsSender:
    """Send one text message; return the channel name used. Raise to make the worker retry."""

    channel = "sms"

    def send(self, *, phone: str, text: str) -> str:
        raise NotImplementedError


class LogSmsSender(BaseSmsSender):
    """The default: logs the message (with the phone's last four digits), sends nothing."""

    channel = "sms_log"

    def send(self, *, phone: str, text: str) -> str:
        logger.info("campaign SMS to …%s: %s", phone[-4:], text)
        return self.channel


@lru_cache(maxsize=4)
def _sender_class(path: str) -> type[BaseSmsSender]:
    return import_string(path)


def get_sms_sender() -> BaseSmsSender:
    return _sender_class(settings.XW_SMS_SENDER)()
