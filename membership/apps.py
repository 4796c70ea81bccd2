from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MembershipConfig(AppConfig):
    name = "membership"
    verbose_name = _("Member cards")

    def ready(self) -> None:
        from customers.signals import customer_merged

        from . import receivers, resources

        customer_merged.connect(
            receivers.customer_merged, dispatch_uid="membership.customer_merged"
        )
        resources.register()  # the opening-balance kind of the customers import pipeline
