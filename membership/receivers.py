"""Signal receivers, connected in MembershipConfig.ready(): they only call services."""

from .services import account_customer_merged


def customer_merged(sender, source, target, **kwargs) -> None:
    account_customer_merged(source=source, target=target)
