from django.urls import path

from reconciliation.apis import JournalEntryListApi, JournalLinesCsvApi, SettlementListApi

urlpatterns = [
    path("settlements/", SettlementListApi.as_view(), name="settlement-list"),
    path("journal-entries/", JournalEntryListApi.as_view(), name="journal-entry-list"),
    path("journal-lines.csv", JournalLinesCsvApi.as_view(), name="journal-lines-csv"),
]
