from django.dispatch import Signal

# Sent inside the merge transaction, before the merged customer is deleted, with
# `source` and `target` (Customer) and `actor`. Higher apps (feedback, segmentation)
# move their own rows here: customers never imports them.
customer_merged = Signal()
