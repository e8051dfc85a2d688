"""A typed client for the SP-API simulator's control API (/_sim/), for tests, the demo and benchmarks."""

from __future__ import annotations

from typing import Any

import httpx


class SpApiSimulatorControl:
    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(base_url=self.base_url, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.http.request(method, path, json=body)
        if response.status_code >= 400:
            raise RuntimeError(f"simulator {method} {path}: HTTP {response.status_code} {response.text[:500]}")
        return response.json()

    def reset(self) -> None:
        self._call("POST", "/_sim/reset")

    def health(self) -> dict[str, Any]:
        return dict(self._call("GET", "/_sim/health"))

    def add_seller(
        self,
        *,
        selling_partner_id: str,
        refresh_token: str,
        client_id: str,
        client_secret: str,
        marketplace_ids: list[str],
    ) -> None:
        self._call(
            "POST",
            "/_sim/sellers",
            {
                "selling_partner_id": selling_partner_id,
                "refresh_token": refresh_token,
                "client_id": client_id,
                "client_secret": client_secret,
                "marketplace_ids": marketplace_ids,
            },
        )

    def upsert_orders(self, *, seller: str, orders: list[dict[str, Any]], raw: bool = False) -> list[str]:
        """Each entry: {"order": {...Order...}, "items": [...OrderItem...], "address": {...} | None}."""
        return list(self._call("POST", "/_sim/orders", {"seller": seller, "orders": orders, "raw": raw})["order_ids"])

    def patch_order(self, order_id: str, **fields: Any) -> dict[str, Any]:
        return dict(self._call("PATCH", f"/_sim/orders/{order_id}", fields)["order"])

    def get_order(self, order_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/_sim/orders/{order_id}"))

    def generate(self, *, seller: str, marketplace_id: str, count: int, skus: list[str], **options: Any) -> list[str]:
        """options: start, end (ISO 8601), seed, statuses {status: weight}, fulfillment_channels {MFN/AFN: weight}."""
        body = {"seller": seller, "marketplace_id": marketplace_id, "count": count, "skus": skus, **options}
        return list(self._call("POST", "/_sim/generate", body)["order_ids"])

    def add_fault(self, **rule: Any) -> dict[str, Any]:
        """Keys: operation, kind (error|throttle|latency|timeout|repeat_page), status, ms, seconds, times,
        probability, after."""
        return dict(self._call("POST", "/_sim/faults", rule))

    def faults(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/_sim/faults")["faults"])

    def clear_faults(self) -> None:
        self._call("DELETE", "/_sim/faults")

    def set_rate_limit(self, operation: str, *, rate: float, burst: int) -> None:
        self._call("POST", "/_sim/rate-limits", {"operation": operation, "rate": rate, "burst": burst, "enabled": True})

    def rate_limiting(self, enabled: bool) -> None:
        self._call("POST", "/_sim/rate-limits", {"enabled": enabled})

    def refill(self) -> None:
        self._call("POST", "/_sim/rate-limits", {"refill": True})

    def calls(self) -> dict[str, dict[str, int]]:
        return dict(self._call("GET", "/_sim/calls"))

    def reset_calls(self) -> None:
        self._call("POST", "/_sim/calls/reset")

    def expire_tokens(self) -> None:
        self._call("POST", "/_sim/tokens/expire")

    def settings(self, **values: Any) -> dict[str, Any]:
        """visibility_delay_seconds, items_page_size, rng_seed, token_ttl_seconds."""
        return dict(self._call("POST", "/_sim/settings", values))

    def start_live(self, *, seller: str, marketplace_id: str, skus: list[str], every_seconds: float = 30) -> None:
        body = {"seller": seller, "marketplace_id": marketplace_id, "skus": skus, "every_seconds": every_seconds}
        self._call("POST", "/_sim/live", body)

    def stop_live(self) -> None:
        self._call("DELETE", "/_sim/live")
