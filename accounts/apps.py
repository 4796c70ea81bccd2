from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Businesses and team")

    def ready(self):
        from django.db.backends.signals import connection_created

        from .db import use_compiled_timestamptz_loader

        connection_created.connect(use_compiled_timestamptz_loader, dispatch_uid="xw_fast_tz")
