"""Fixtures for the simulator tests: real HTTP servers on free ports. No Django and no database are needed."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sp_api.auth import access_token_client

from simulators.common import running_server
from simulators.spapi.app import create_app
from simulators.spapi.control import SpApiSimulatorControl
from tests.simulators.support import DE, SELLER, UK, lwa


@pytest.fixture(scope="session")
def spapi_url() -> Iterator[str]:
    """One SP-API simulator for the session; `sim` resets it before each test."""
    with running_server(create_app()) as base_url:
        yield base_url


@pytest.fixture
def sim(spapi_url: str) -> Iterator[SpApiSimulatorControl]:
    """A reset simulator with one registered seller (UK and DE)."""
    with SpApiSimulatorControl(spapi_url) as control:
        control.reset()
        control.add_seller(**SELLER, marketplace_ids=[UK, DE])
        yield control
        control.reset()


@pytest.fixture
def api(spapi_url: str, sim: SpApiSimulatorControl) -> Iterator[httpx.Client]:
    """An httpx client carrying a live access token for SELLER."""
    token = lwa(spapi_url).json()["access_token"]
    with httpx.Client(base_url=spapi_url, headers={"x-amz-access-token": token}, timeout=10) as client:
        yield client


@pytest.fixture(autouse=True)
def _clear_sp_api_token_cache() -> Iterator[None]:
    """python-amazon-sp-api caches access tokens module-wide, keyed by refresh token only."""
    access_token_client.cache.clear()
    yield
    access_token_client.cache.clear()
