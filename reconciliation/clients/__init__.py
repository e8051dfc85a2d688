"""Provider clients of the reconciliation app (Amazon Reports API: settlement reports and their documents)."""
