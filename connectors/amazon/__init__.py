"""The Amazon Selling Partner API connector, used by orders, fulfillment and reconciliation.

- `base`: `SpApiClient`, the plumbing every client shares (python-amazon-sp-api pointed at Amazon or the simulator,
  LWA tokens, typed errors, the usage plans with the shared rate limiter and the circuit breaker, call counts) and
  the helpers the clients share (`iso`, `rate_limit`, `malformed`, `presigned_url_error`).
- One client per API, each a subclass of `SpApiClient`, with its result types and parsers beside it: `orders`
  (+ `orders_types`), `fulfillment_outbound` (+ `fulfillment_outbound_types`), `reports`, `inventory` (+
  `inventory_types`: Listings Items, JSON_LISTINGS_FEED feeds, FBA Inventory), `finances` (+ `finances_types`:
  Finances 2024-06-19 listTransactions).
- `marketplaces`: Amazon's marketplace ids, their country, currency and region.
"""
