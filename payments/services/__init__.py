"""Payment services. Import from here; the submodules are an implementation detail."""

from payments.services.batches import (
    BatchFetchSummary,
    opayo_batch_match,
    opayo_batch_refetch,
    opayo_batch_reprocess,
    opayo_batches_fetch,
    opayo_unsettled_report,
)
from payments.services.fraud import (
    FraudFacts,
    FraudIndicator,
    fraud_assess,
    fraud_facts_collect,
    fraud_indicators,
    fraud_reject,
    fraud_release,
    fraud_score,
)
from payments.services.ledger import payment_recompute, vendor_tx_code_for
from payments.services.notifications import (
    opayo_notification_apply_safely,
    opayo_notification_receive,
    opayo_notification_reprocess,
    opayo_notifications_apply_pending,
)
from payments.services.operations import (
    payment_capture,
    payment_refund,
    payment_register,
    payment_transaction_refresh,
    payment_transactions_poll_due,
    payment_void,
)

__all__ = [
    "BatchFetchSummary",
    "FraudFacts",
    "FraudIndicator",
    "fraud_assess",
    "fraud_facts_collect",
    "fraud_indicators",
    "fraud_reject",
    "fraud_release",
    "fraud_score",
    "opayo_batch_match",
    "opayo_batch_refetch",
    "opayo_batch_reprocess",
    "opayo_batches_fetch",
    "opayo_notification_apply_safely",
    "opayo_notification_receive",
    "opayo_notification_reprocess",
    "opayo_notifications_apply_pending",
    "opayo_unsettled_report",
    "payment_capture",
    "payment_recompute",
    "payment_refund",
    "payment_register",
    "payment_transaction_refresh",
    "payment_transactions_poll_due",
    "payment_void",
    "vendor_tx_code_for",
]
