"""deAPI's HTTP exchanges: one authorised request, a job's status and result, a balance, a price."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx

from engine.errors import ProviderError
from engine.providers.base import Transcript
from engine.providers.deapi_result import data_of, error_for, parse_result

PREFIX = "/api/v1/client"


class DeapiHttp:
    """One connection pool to ``api_base``; every call names the key it is made with."""

    def __init__(self, api_base: str, timeout: float) -> None:
        self.api_base = api_base
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(30.0, timeout)), follow_redirects=True
        )

    def close(self) -> None:
        self._client.close()

    def send(
        self,
        method: str,
        path: str,
        key: str,
        *,
        json_body: Any = None,
        allow: tuple[int, ...] = (),
        **kw: Any,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
        try:
            response = self._client.request(
                method, self.api_base + path, headers=headers, json=json_body, **kw
            )
        except httpx.TimeoutException as exc:
            raise ProviderError(
                f"deAPI did not answer in time ({type(exc).__name__})", transient=True
            ) from exc
        except httpx.TransportError as exc:
            raise ProviderError(
                f"network problem talking to {self.api_base}: {type(exc).__name__}",
                transient=True,
            ) from exc
        if response.status_code != 200 and response.status_code not in allow:
            raise error_for(response)
        return response

    def status(self, request_id: str, key: str) -> dict[str, Any] | None:
        """The job's status data, or None when deAPI does not know the request (404)."""
        path = f"{PREFIX}/request-status/{quote(request_id, safe='')}"
        response = self.send("GET", path, key, allow=(404,))
        if response.status_code == 404:
            return None
        data = data_of(response)
        if not isinstance(data, dict):
            raise ProviderError("deAPI sent a status of an unexpected shape", transient=True)
        return data

    def result(self, data: dict[str, Any], duration: float | None) -> Transcript:
        """A finished job's transcript: inline, or downloaded from its ``result_url``."""
        result = data.get("result")
        url = data.get("result_url")
        if result in (None, "") and url:
            try:
                response = self._client.get(str(url))
            except httpx.HTTPError as exc:
                raise ProviderError(
                    f"could not download the deAPI result ({type(exc).__name__})", transient=True
                ) from exc
            if response.status_code != 200:
                raise ProviderError(
                    f"could not download the deAPI result: result_url answered "
                    f"{response.status_code}",
                    transient=response.status_code >= 500 or response.status_code == 404,
                )
            result = response.text
        if result is None:
            raise ProviderError("deAPI finished the job without a result", transient=True)
        return parse_result(result, duration)

    def balance(self, key: str) -> float:
        """The account balance in USD (``GET /api/v1/client/balance``)."""
        response = self.send("GET", f"{PREFIX}/balance", key)
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ProviderError("deAPI sent an unreadable balance", transient=True) from exc
        # The page shows {"balance": 123}; the v1 envelope {"data": {...}} is accepted too.
        if isinstance(body, dict) and isinstance(body.get("data"), dict):
            body = body["data"]
        value = body.get("balance") if isinstance(body, dict) else None
        if not isinstance(value, int | float):
            raise ProviderError("deAPI sent a balance of an unexpected shape", transient=True)
        return float(value)

    def price(self, endpoint: str, key: str, body: dict[str, Any]) -> float:
        """What a job on ``endpoint`` with ``body`` would cost (``{endpoint}/price-calculation``)."""
        response = self.send("POST", f"{PREFIX}/{endpoint}/price-calculation", key, json_body=body)
        data = data_of(response)
        price = data.get("price") if isinstance(data, dict) else None
        if not isinstance(price, int | float):
            raise ProviderError("deAPI sent a price of an unexpected shape", transient=True)
        return float(price)
