from django.urls import path

from reconciliation.apis import (
    BankLineListApi,
    BankStatementUploadApi,
    JournalEntryListApi,
    JournalLinesCsvApi,
    SettlementListApi,
    ThreeWayOrderApi,
    ThreeWayPeriodApi,
)

urlpatterns = [
    path("settlements/", SettlementListApi.as_view(), name="settlement-list"),
    path("journal-entries/", JournalEntryListApi.as_view(), name="journal-entry-list"),
    path("journal-lines.csv", JournalLinesCsvApi.as_view(), name="journal-lines-csv"),
    path("bank-statements/", BankStatementUploadApi.as_view(), name="bank-statement-upload"),
    path("bank-lines/", BankLineListApi.as_view(), name="bank-line-list"),
    path("three-way/", ThreeWayPeriodApi.as_view(), name="three-way-period"),
    path("three-way/orders/<int:order_id>/", ThreeWayOrderApi.as_view(), name="three-way-order"),
]
