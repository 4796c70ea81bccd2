"""The API's router: wiring only. Customers are served with their score (segmentation reads
customers, never the reverse)."""

from rest_framework.routers import DefaultRouter

from campaigns.api import CampaignMemberViewSet, CampaignViewSet
from customers.api import FollowUpViewSet, InteractionViewSet, PurchaseViewSet, TagViewSet
from feedback.api import FeedbackViewSet
from membership.api import LedgerEntryViewSet, LedgerOperationViewSet, MemberAccountViewSet
from segmentation.api import ScoredCustomerViewSet, ScoringRunViewSet

router = DefaultRouter()
router.include_root_view = False
router.register("customers", ScoredCustomerViewSet, basename="customer")
router.register("tags", TagViewSet, basename="tag")
router.register("purchases", PurchaseViewSet, basename="purchase")
router.register("interactions", InteractionViewSet, basename="interaction")
router.register("follow-ups", FollowUpViewSet, basename="followup")
router.register("feedback", FeedbackViewSet, basename="feedback")
router.register("scoring-runs", ScoringRunViewSet, basename="scoringrun")
router.register("member-accounts", MemberAccountViewSet, basename="memberaccount")
router.register("ledger-entries", LedgerEntryViewSet, basename="ledgerentry")
router.register("ledger-operations", LedgerOperationViewSet, basename="ledgeroperation")
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("campaign-members", CampaignMemberViewSet, basename="campaignmember")
