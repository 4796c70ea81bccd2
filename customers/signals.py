from django.dispatch import Signal

# Sent inside the merge transaction, before the merged customer is deleted, with
# `source` and `target` (Customer) and `actor`. Higher apps (feedback, segmentation)
# move their own rows here: customers never imports them.
customer_merged = Signal()

# Sent after commit when purchases were recorded in bulk (API ingest), with `business`,
# `purchase_ids` and `sales` ((purchase id, customer id, occurred_at) of each). Single saves
# fire Django's post_save as usual; file imports of old sales send nothing on purpose (no
# feedback requests for last year's receipts).
purchases_recorded = Signal()

# Sent by `seed_demo` for every demo business, new or already there, with `business`,
# `created` and `stdout`. Higher apps complete the demo (segmentation scores a business that
# has no scores yet; reports makes last week's report), without customers importing them.
demo_seeded = Signal()
