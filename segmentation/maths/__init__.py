"""Customer-value mathematics for XiaoWei CRM (pure numpy/scipy; no Django).

The method of docs/scoring.md: RFM, BG/NBD churn risk, Gamma-Gamma lifetime value, net value,
value tiers, loyalty score and recommended actions. ``score_population`` runs it all.
"""

from .bgnbd import DEFAULT_PRIOR, BGNBDFit, BGNBDParams, expected_purchases, p_alive
from .bgnbd import fit as fit_bgnbd
from .bgnbd import log_likelihood as bgnbd_log_likelihood
from .engine import MIN_REPEAT_CUSTOMERS, PopulationScores, score_population
from .gammagamma import (
    DEFAULT_GG_PRIOR,
    GammaGammaFit,
    GammaGammaParams,
    conditional_expected_average_profit,
    customer_lifetime_value,
)
from .gammagamma import fit as fit_gamma_gamma
from .rfm import NO_PURCHASE, SEGMENTS, RFMScores, percentile_scores, rfm_scores, rfm_segments
from .summary import CustomerSummary, summarize_transactions, to_day_numbers
from .value import (
    ACTIONS,
    CHURN_RISK_THRESHOLD,
    DEFAULT_LOYALTY_WEIGHTS,
    TENURE_SATURATION_DAYS,
    TIER_A_SHARE,
    TIER_B_SHARE,
    loyalty_components,
    loyalty_score,
    net_value,
    recommended_action,
    value_tiers,
)

__all__ = [
    "ACTIONS",
    "CHURN_RISK_THRESHOLD",
    "DEFAULT_GG_PRIOR",
    "DEFAULT_LOYALTY_WEIGHTS",
    "DEFAULT_PRIOR",
    "MIN_REPEAT_CUSTOMERS",
    "NO_PURCHASE",
    "SEGMENTS",
    "TENURE_SATURATION_DAYS",
    "TIER_A_SHARE",
    "TIER_B_SHARE",
    "BGNBDFit",
    "BGNBDParams",
    "CustomerSummary",
    "GammaGammaFit",
    "GammaGammaParams",
    "PopulationScores",
    "RFMScores",
    "bgnbd_log_likelihood",
    "conditional_expected_average_profit",
    "customer_lifetime_value",
    "expected_purchases",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "loyalty_components",
    "loyalty_score",
    "net_value",
    "p_alive",
    "percentile_scores",
    "recommended_action",
    "rfm_scores",
    "rfm_segments",
    "score_population",
    "summarize_transactions",
    "to_day_numbers",
    "value_tiers",
]
