"""A local stand-in for the few Stripe API endpoints the app uses, and for the webhooks Stripe sends.

``StripeStandIn`` is the in-memory core (thread-safe). The real Stripe SDK reaches
it either over HTTP (``StripeStandInServer``, used by the local stack through
``StripeClient(base_addresses=...)``) or through a fake transport in the tests
(``tests/stripe_transport.py``), so both behave the same. Objects are deep copies
of Stripe's own fixtures (``stripe_fixtures/``, from stripe/openapi, MIT) with
the business fields filled in.

Served: ``POST /v1/payment_intents``, ``GET /v1/payment_intents/{id}``,
``POST /v1/payment_intents/{id}/cancel``, ``POST /v1/refunds``, ``GET /v1/refunds/{id}``
and ``GET /v1/charges/{id}``, with Stripe's bearer auth, idempotency keys and error
shape. What the customer and the card networks do (paying, a decline, a dispute)
is played through the Python control API (``succeed``, ``fail``, ``dispute``) or
the server's ``/_devstack/`` endpoints.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import re
import secrets
import string
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple

import stripe

JSON = dict[str, Any]
API_VERSION = "2025-01-27.acacia"
FIXTURES = Path(__file__).resolve().parent / "stripe_fixtures"
PAYMENT_METHOD_TYPES = ("card", "alipay", "wechat_pay")
PAYABLE = ("requires_payment_method", "requires_confirmation", "requires_action", "processing")
CANCELABLE = (*PAYABLE, "requires_capture")
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
CANCELLATION_REASONS = ("duplicate", "fraudulent", "requested_by_customer", "abandoned")
EXPANDABLE = {
    "payment_intent": ("latest_charge",),
    "refund": ("charge", "payment_intent"),
    "charge": ("payment_intent",),
}
LOOPBACK = ("127.0.0.1", "::1")
_ALPHANUMERIC = string.ascii_letters + string.digits
logger = logging.getLogger(__name__)


class StripeError(Exception):
    """An error answered in Stripe's shape: ``{"error": {"type", "code"?, "message", "param"?}}``.

    ``stored`` is False for errors raised before the request began executing (bad
    parameters, auth): Stripe saves no idempotent result for those.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        extra: JSON | None = None,
        stored: bool = True,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type, code, param
        self.extra, self.stored = extra or {}, stored

    def body(self) -> JSON:
        error: JSON = {"type": self.type, "message": self.message}
        if self.code:
            error.update(code=self.code, doc_url=f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}")
        if self.param:
            error["param"] = self.param
        return {"error": {**error, **self.extra}}


class Response(NamedTuple):
    """What the stand-in answers: status, JSON body, headers, and the events Stripe would now send to webhooks."""

    status: int
    body: JSON
    headers: dict[str, str]
    events: list[JSON]


class _Request(NamedTuple):
    id: str
    idempotency_key: str | None


class _Saved(NamedTuple):
    fingerprint: tuple[str, str, JSON]
    response: Response


def random_id(prefix: str, length: int = 24) -> str:
    """``<prefix>_`` and random alphanumerics, as Stripe's ids."""
    return f"{prefix}_{''.join(secrets.choice(_ALPHANUMERIC) for _ in range(length))}"


@functools.cache
def _fixture(name: str) -> JSON:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def fixture(name: str) -> JSON:
    """A fresh deep copy of one of Stripe's fixture objects."""
    return copy.deepcopy(_fixture(name))


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe would send with ``payload`` (the exact text POSTed)."""
    return stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=timestamp)


def event_payload(event: JSON) -> str:
    """An event as Stripe posts it (pretty-printed JSON); sign and send exactly this text."""
    return json.dumps(event, indent=2, ensure_ascii=False)


def decode_form(text: str) -> JSON:
    """Stripe's form encoding to nested dicts and lists: ``metadata[k]=v``, ``types[0]=card``, ``expand[]=x``."""
    root: JSON = {}
    for key, value in urllib.parse.parse_qsl(text, keep_blank_values=True):
        match = re.fullmatch(r"([^\[\]]+)((?:\[[^\[\]]*\])*)", key)
        if not match:
            raise _invalid(f"Invalid parameter name: {key}", key, "parameter_unknown")
        parts = [match[1], *re.findall(r"\[([^\[\]]*)\]", match[2])]
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part or str(len(node)), {})
            if not isinstance(node, dict):
                raise _invalid(f"Invalid value for {parts[0]}: it mixes a value and nested keys.", key)
        leaf = parts[-1] or str(len(node))
        if isinstance(node.get(leaf), dict):
            raise _invalid(f"Invalid value for {parts[0]}: it mixes a value and nested keys.", key)
        node[leaf] = value
    return {name: _listify(value, name) for name, value in root.items()}


def _listify(node: Any, name: str) -> Any:
    if not isinstance(node, dict) or name == "metadata":
        return node
    items = {key: _listify(value, key) for key, value in node.items()}
    if items and all(key.isdigit() for key in items):
        return [items[key] for key in sorted(items, key=int)]
    return items


def _invalid(message: str, param: str, code: str = "parameter_invalid") -> StripeError:
    return StripeError(400, message, code=code, param=param, stored=False)


def _check_params(params: JSON, allowed: tuple[str, ...]) -> None:
    for name in params:
        if name not in allowed:
            served = ", ".join(allowed)
            raise _invalid(
                f"Received unknown parameter: {name} (the local Stripe stand-in takes only {served})",
                name,
                "parameter_unknown",
            )


def _positive_int(params: JSON, name: str, *, required: bool) -> int | None:
    raw = params.get(name)
    if raw is None:
        if required:
            raise _invalid(f"Missing required param: {name}.", name, "parameter_missing")
        return None
    if not isinstance(raw, str) or not re.fullmatch(r"-?\d+", raw):
        raise _invalid(f"Invalid integer: {raw}", name, "parameter_invalid_integer")
    if int(raw) < 1:
        raise _invalid("This value must be greater than or equal to 1.", name, "parameter_invalid_integer")
    return int(raw)


def _choice(params: JSON, name: str, choices: tuple[str, ...]) -> str | None:
    value = params.get(name) or None
    if value is not None and value not in choices:
        raise _invalid(f"Invalid {name}: must be one of {', '.join(choices)}", name)
    return value


def _metadata(params: JSON) -> dict[str, str]:
    metadata = params.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise _invalid("Invalid object", "metadata")
    if len(metadata) > 50:
        raise _invalid("Metadata can have at most 50 keys.", "metadata")
    for key, value in metadata.items():
        if len(key) > 40 or not isinstance(value, str) or len(value) > 500:
            raise _invalid(
                f"Invalid metadata[{key}]: keys up to 40 and values up to 500 characters.", f"metadata[{key}]"
            )
    return dict(metadata)


class StripeStandIn:
    """Stripe's PaymentIntents, charges, refunds and disputes, in memory, with the events Stripe would send."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._objects: dict[str, JSON] = {}  # id -> object, in creation order
        self._idempotency: dict[tuple[str, str], _Saved] = {}
        self._refund_events: dict[str, list[JSON]] = {}
        self.events: list[JSON] = []  # every event produced, oldest first

    sign = staticmethod(sign)

    # --- HTTP ---------------------------------------------------------------------------------------

    def handle(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        headers: Mapping[str, str] | None = None,
        body: bytes | str | None = None,
    ) -> Response:
        """Answer one API request as Stripe would (auth, idempotency, routing, errors)."""
        method = method.upper()
        lowered = {name.lower(): value for name, value in (headers or {}).items()}
        request = _Request(random_id("req", 14), lowered.get("idempotency-key") if method == "POST" else None)
        out = {"Request-Id": request.id, "Stripe-Version": lowered.get("stripe-version", API_VERSION)}
        if request.idempotency_key:
            out["Idempotency-Key"] = request.idempotency_key
        text = body.decode("utf-8") if isinstance(body, bytes) else body or ""
        with self._lock:
            api_key, params, events = None, {}, []
            try:
                api_key = self._authenticate(lowered.get("authorization", ""))
                params = decode_form(text if method == "POST" else query)
                slot = (api_key, request.idempotency_key or "")
                saved = self._idempotency.get(slot) if request.idempotency_key else None
                if saved is not None:
                    if saved.fingerprint != (method, path, params):
                        raise StripeError(400, _reused(request.idempotency_key), type="idempotency_error", stored=False)
                    replayed = {
                        **out,
                        "Idempotent-Replayed": "true",
                        "Original-Request": saved.response.headers["Request-Id"],
                    }
                    return saved.response._replace(body=copy.deepcopy(saved.response.body), headers=replayed, events=[])
                status, result, stored = 200, self._route(method, path, params, request, events), True
            except StripeError as error:
                status, result, stored = error.status, error.body(), error.stored
            response = Response(status, result, out, events)
            if request.idempotency_key and api_key and stored:
                saved_response = response._replace(body=copy.deepcopy(result), events=[])
                self._idempotency[(api_key, request.idempotency_key)] = _Saved((method, path, params), saved_response)
            return response

    @staticmethod
    def _authenticate(authorization: str) -> str:
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not key:
            raise StripeError(
                401,
                "You did not provide an API key. You need to provide your API key in the Authorization header, "
                "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
                stored=False,
            )
        if not key.startswith("sk_"):
            raise StripeError(401, f"Invalid API Key provided: {key[:8]}{'*' * 8}", stored=False)
        return key

    def _route(self, method: str, path: str, params: JSON, request: _Request, events: list[JSON]) -> JSON:
        parts = path.strip("/").split("/")
        if method == "POST" and parts == ["v1", "payment_intents"]:
            return self._create_payment_intent(params)
        if method == "GET" and len(parts) == 3 and parts[:2] == ["v1", "payment_intents"]:
            _check_params(params, ("expand",))
            return self._render(self._get("payment_intent", parts[2], "intent"), params)
        if method == "POST" and len(parts) == 4 and parts[:2] == ["v1", "payment_intents"] and parts[3] == "cancel":
            return self._cancel_payment_intent(parts[2], params)
        if method == "POST" and parts == ["v1", "refunds"]:
            return self._create_refund(params, request, events)
        if method == "GET" and len(parts) == 3 and parts[:2] == ["v1", "refunds"]:
            _check_params(params, ("expand",))
            return self._render(self._get("refund", parts[2], "id"), params)
        if method == "GET" and len(parts) == 3 and parts[:2] == ["v1", "charges"]:
            _check_params(params, ("expand",))
            return self._render(self._get("charge", parts[2], "charge"), params)
        raise StripeError(
            404,
            f"Unrecognized request URL ({method}: {path}). The local Stripe stand-in serves only what the app uses.",
            stored=False,
        )

    def _get(self, kind: str, object_id: str, param: str) -> JSON:
        obj = self._objects.get(object_id)
        if obj is None or obj["object"] != kind:
            raise StripeError(404, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)
        return obj

    def _render(self, obj: JSON, params: JSON) -> JSON:
        """A copy of ``obj`` for a response, with ``expand[]`` ids replaced by their objects."""
        rendered = copy.deepcopy(obj)
        expand = params.get("expand") or []
        for field in expand if isinstance(expand, list) else [expand]:
            if field not in EXPANDABLE.get(obj["object"], ()):
                raise _invalid(f"This property cannot be expanded ({field}).", "expand")
            if isinstance(rendered.get(field), str):
                rendered[field] = copy.deepcopy(self._objects[rendered[field]])
        return rendered

    # --- the API ------------------------------------------------------------------------------------

    def _create_payment_intent(self, params: JSON) -> JSON:
        _check_params(
            params,
            (
                "amount",
                "currency",
                "payment_method_types",
                "payment_method_options",
                "metadata",
                "description",
                "expand",
            ),
        )
        amount = _positive_int(params, "amount", required=True)
        currency = params.get("currency")
        if not currency:
            raise _invalid("Missing required param: currency.", "currency", "parameter_missing")
        if not isinstance(currency, str) or not re.fullmatch(r"[A-Za-z]{3}", currency):
            raise _invalid(f"Invalid currency: {currency}.", "currency")
        types = params.get("payment_method_types")
        if types is not None and (not isinstance(types, list) or not types):
            raise _invalid("Invalid array", "payment_method_types")
        for kind in types or []:
            if kind not in PAYMENT_METHOD_TYPES:
                message = (
                    f'The payment method type "{kind}" is invalid (the local stand-in takes card, alipay, wechat_pay).'
                )
                raise _invalid(message, "payment_method_types", "payment_method_type_invalid")
        options = params.get("payment_method_options") or {}
        pi = fixture("payment_intent")
        pi_id = random_id("pi")
        pi.update(
            id=pi_id,
            amount=amount,
            amount_capturable=0,
            amount_received=0,
            automatic_payment_methods=None if types else {"allow_redirects": "always", "enabled": True},
            canceled_at=None,
            cancellation_reason=None,
            client_secret=f"{pi_id}_secret_{random_id('x', 25)[2:]}",
            created=int(time.time()),
            currency=currency.lower(),
            description=params.get("description") or None,
            last_payment_error=None,
            latest_charge=None,
            metadata=_metadata(params),
            next_action=None,
            payment_method=None,
            payment_method_configuration_details=None,
            payment_method_options=options if isinstance(options, dict) else {},
            payment_method_types=types or ["card"],
            processing=None,
            shipping=None,
            status="requires_payment_method",
            transfer_data=None,
        )
        self._objects[pi_id] = pi
        return self._render(pi, params)

    def _cancel_payment_intent(self, pi_id: str, params: JSON) -> JSON:
        _check_params(params, ("cancellation_reason", "expand"))
        reason = _choice(params, "cancellation_reason", CANCELLATION_REASONS)
        pi = self._get("payment_intent", pi_id, "intent")
        if pi["status"] not in CANCELABLE:
            raise _unexpected_state(pi, "cancel", CANCELABLE)
        pi.update(status="canceled", canceled_at=int(time.time()), cancellation_reason=reason, next_action=None)
        return self._render(pi, params)

    def _create_refund(self, params: JSON, request: _Request, events: list[JSON]) -> JSON:
        _check_params(params, ("payment_intent", "charge", "amount", "reason", "metadata", "expand"))
        amount = _positive_int(params, "amount", required=False)
        reason = _choice(params, "reason", REFUND_REASONS)
        metadata = _metadata(params)
        if params.get("payment_intent"):
            pi = self._get("payment_intent", params["payment_intent"], "payment_intent")
            if pi["status"] != "succeeded" or not pi["latest_charge"]:
                message = f"This PaymentIntent ({pi['id']}) does not have a successful charge to refund."
                raise StripeError(400, message, code="payment_intent_unexpected_state", param="payment_intent")
            charge = self._objects[pi["latest_charge"]]
        elif params.get("charge"):
            charge = self._get("charge", params["charge"], "charge")
        else:
            message = "One of the following params should be provided for this request: payment_intent or charge."
            raise _invalid(message, "payment_intent", "parameter_missing")
        remaining = charge["amount"] - charge["amount_refunded"]
        if charge["disputed"]:
            raise StripeError(
                400, f"Charge {charge['id']} has been charged back; cannot issue a refund.", code="charge_disputed"
            )
        if remaining <= 0:
            raise StripeError(400, f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded")
        if amount is not None and amount > remaining:
            message = f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})"
            raise StripeError(400, message, code="amount_too_large", param="amount")
        refund = fixture("refund")
        refund.update(
            id=random_id("re"),
            amount=amount or remaining,
            balance_transaction=random_id("txn"),
            charge=charge["id"],
            created=int(time.time()),
            currency=charge["currency"],
            metadata=metadata,
            payment_intent=charge["payment_intent"],
            reason=reason,
            status="succeeded",
        )
        self._set_method_details(refund, "destination_details", charge["payment_method_details"]["type"])
        self._objects[refund["id"]] = refund
        charge["amount_refunded"] += refund["amount"]
        charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        charge["refunds"]["data"].insert(0, copy.deepcopy(refund))
        events += [
            self._emit("refund.created", refund, request),
            self._emit("charge.refunded", charge, request),
        ]
        self._refund_events[refund["id"]] = copy.deepcopy(events[-2:])
        return self._render(refund, params)

    # --- the control API: what customers and card networks do ---------------------------------------

    def succeed(self, pi_id: str, amount: int | None = None, currency: str | None = None) -> JSON:
        """The customer pays: the PI succeeds with a captured charge; ``payment_intent.succeeded``.

        ``amount``/``currency`` override what is paid (``amount_received`` and the charge's
        amounts; ``currency`` of the PI and the charge), for mismatch tests.
        """
        with self._lock:
            pi = self._get("payment_intent", pi_id, "intent")
            if pi["status"] not in PAYABLE:
                raise _unexpected_state(pi, "confirm", PAYABLE)
            paid = pi["amount"] if amount is None else amount
            if not isinstance(paid, int) or paid < 0:
                raise TypeError(f"amount must be a non-negative integer, not {paid!r}")
            pi["currency"] = (currency or pi["currency"]).lower()
            charge = self._new_charge(pi, paid)
            pi.update(
                amount_received=paid,
                latest_charge=charge["id"],
                payment_method=charge["payment_method"],
                last_payment_error=None,
                next_action=None,
                status="succeeded",
            )
            return self._emit("payment_intent.succeeded", pi)

    def fail(self, pi_id: str, code: str = "card_declined", message: str = "Your card was declined.") -> JSON:
        """The customer's payment is declined: the PI wants a payment method again; ``payment_intent.payment_failed``."""
        with self._lock:
            pi = self._get("payment_intent", pi_id, "intent")
            if pi["status"] not in PAYABLE:
                raise _unexpected_state(pi, "confirm", PAYABLE)
            error = {"code": code, "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"}
            pi.update(
                last_payment_error={**error, "message": message, "type": "card_error"},
                payment_method=None,
                next_action=None,
                status="requires_payment_method",
            )
            return self._emit("payment_intent.payment_failed", pi)

    def dispute(self, pi_id: str, amount: int | None = None, reason: str = "fraudulent") -> JSON:
        """The cardholder disputes the PI's charge: ``charge.dispute.created``."""
        with self._lock:
            pi = self._get("payment_intent", pi_id, "intent")
            if pi["status"] != "succeeded":
                raise _unexpected_state(pi, "dispute", ("succeeded",))
            charge = self._objects[pi["latest_charge"]]
            charge["disputed"] = True
            dispute = fixture("dispute")
            now = int(time.time())
            dispute.update(
                id=random_id("dp"),
                amount=charge["amount"] if amount is None else amount,
                charge=charge["id"],
                created=now,
                currency=charge["currency"],
                evidence_details={**dispute["evidence_details"], "due_by": now + 7 * 86400},
                is_charge_refundable=False,
                metadata={},
                payment_intent=pi["id"],
                reason=reason,
                status="needs_response",
            )
            dispute["payment_method_details"]["card"]["case_type"] = "chargeback"
            self._objects[dispute["id"]] = dispute
            return self._emit("charge.dispute.created", dispute)

    def refund_events(self, refund_id: str) -> list[JSON]:
        """The events Stripe sent for a refund: ``refund.created`` and ``charge.refunded``."""
        with self._lock:
            self._get("refund", refund_id, "id")
            return copy.deepcopy(self._refund_events[refund_id])

    def find_payment_intents(self, order_id: str | None = None) -> list[JSON]:
        """PaymentIntents whose ``metadata.order_id`` is ``order_id`` (all when None), newest first."""
        with self._lock:
            found = [
                copy.deepcopy(obj)
                for obj in self._objects.values()
                if obj["object"] == "payment_intent"
                and (order_id is None or obj["metadata"].get("order_id") == order_id)
            ]
        return found[::-1]

    def get(self, object_id: str) -> JSON:
        """A copy of any object (pi_, ch_, re_, dp_) or event (evt_) by id."""
        with self._lock:
            if object_id.startswith("evt_"):
                found = next((e for e in self.events if e["id"] == object_id), None)
            else:
                found = self._objects.get(object_id)
            if found is None:
                raise StripeError(404, f"No such object: '{object_id}'", code="resource_missing", param="id")
            return copy.deepcopy(found)

    def event(self, type: str, obj: JSON, *, request_id: str | None = None, idempotency_key: str | None = None) -> JSON:
        """An event envelope shaped like Stripe's, around a snapshot of ``obj``."""
        envelope = fixture("event_payment_intent_created")
        envelope.update(
            api_version=API_VERSION,
            created=int(time.time()),
            data={"object": copy.deepcopy(obj)},
            id=random_id("evt"),
            livemode=False,
            pending_webhooks=1,
            request={"id": request_id, "idempotency_key": idempotency_key},
            type=type,
        )
        return envelope

    def _emit(self, type: str, obj: JSON, request: _Request | None = None) -> JSON:
        request_id, key = (request.id, request.idempotency_key) if request else (None, None)
        event = self.event(type, obj, request_id=request_id, idempotency_key=key)
        self.events.append(event)
        return copy.deepcopy(event)

    def _new_charge(self, pi: JSON, amount: int) -> JSON:
        charge = fixture("charge")
        charge_id = random_id("ch")
        charge.update(
            id=charge_id,
            amount=amount,
            amount_captured=amount,
            amount_refunded=0,
            balance_transaction=random_id("txn"),
            captured=True,
            created=int(time.time()),
            currency=pi["currency"],
            description=pi["description"],
            disputed=False,
            metadata={},  # Stripe does not copy the PI's metadata to its charge: the app must not rely on it
            outcome={
                **charge["outcome"],
                "network_status": "approved_by_network",
                "seller_message": "Payment complete.",
                "type": "authorized",
            },
            paid=True,
            payment_intent=pi["id"],
            payment_method=random_id("pm"),
            receipt_url=f"https://pay.stripe.com/receipts/payment/local_{charge_id}",
            refunded=False,
            refunds={"data": [], "has_more": False, "object": "list", "url": f"/v1/charges/{charge_id}/refunds"},
            source=None,
            status="succeeded",
            transfer_data=None,
        )
        details = charge["payment_method_details"]
        if "card" in details:
            details["card"]["overcapture"]["maximum_amount_capturable"] = amount
        self._set_method_details(charge, "payment_method_details", pi["payment_method_types"][0])
        self._objects[charge_id] = charge
        return charge

    @staticmethod
    def _set_method_details(obj: JSON, field: str, kind: str) -> None:
        """Keep the fixture's card details for cards; other methods get ``{"type": kind, kind: {}}``."""
        if kind != "card":
            obj[field] = {"type": kind, kind: {}}


def _unexpected_state(pi: JSON, action: str, allowed: tuple[str, ...]) -> StripeError:
    message = (
        f"You cannot {action} this PaymentIntent because it has a status of {pi['status']}. "
        f"Only a PaymentIntent with one of the following statuses may be {action}ed: {', '.join(allowed)}."
    )
    extra = {"payment_intent": copy.deepcopy(pi)}
    return StripeError(400, message, code="payment_intent_unexpected_state", extra=extra)


def _reused(key: str | None) -> str:
    return (
        f"Keys for idempotent requests can only be used with the same parameters they were first used with. "
        f"Try using a key other than '{key}' if you meant to execute a different request."
    )


# --- HTTP server for the local stack ----------------------------------------------------------------


class StripeStandInServer:
    """The stand-in over HTTP (a daemon thread), posting its events to the app's webhook, signed, as Stripe does.

    ``webhook_url`` may be set after ``start()`` (the local stack learns the API's URL later).
    Control endpoints, loopback only, no auth: ``GET /_devstack/payment_intents?order_id=``,
    ``POST /_devstack/payment_intents/{id}/succeed|fail|dispute`` (optional JSON body of the
    method's arguments) and ``POST /_devstack/events/{id}/deliver``; each delivers its event
    synchronously and answers ``{"event", "webhook_status", "webhook_body"}``.
    """

    def __init__(
        self,
        standin: StripeStandIn,
        host: str = "127.0.0.1",
        port: int = 0,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        *,
        delivery_delay: float = 0.2,
        attempts: int = 4,
    ) -> None:
        self.standin, self.host, self.port = standin, host, port
        self.webhook_url, self.webhook_secret = webhook_url, webhook_secret
        self.delivery_delay, self.attempts = delivery_delay, attempts
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> str:
        """Bind (port 0: a free port) and serve; returns the base URL. OSError if the port is taken."""
        self._httpd = _HTTPServer((self.host, self.port), _Handler)
        self._httpd.owner = self
        self.port = self._httpd.server_address[1]
        serve = functools.partial(self._httpd.serve_forever, poll_interval=0.05)  # stop() returns at once
        self._thread = threading.Thread(target=serve, name="stripe-standin", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def deliver(self, event: JSON) -> tuple[int | None, Any]:
        """POST ``event`` to the webhook, signed, retrying connection errors and 5xx; (status, parsed body).

        The status is None when no webhook is configured or it could not be reached.
        """
        url, secret = self.webhook_url, self.webhook_secret
        if not url or not secret:
            return None, "no webhook URL or secret configured"
        payload = event_payload(event)
        status: int | None = None
        answer: Any = None
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(0.25 * 2 ** (attempt - 1))
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": sign(payload, secret),  # signed again at each attempt, as Stripe does
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            }
            request = urllib.request.Request(url, data=payload.encode("utf-8"), headers=headers, method="POST")
            try:
                with self._opener.open(request, timeout=15) as reply:
                    status, answer = reply.status, _parse(reply.read())
            except urllib.error.HTTPError as error:
                status, answer = error.code, _parse(error.read())
            except OSError as error:
                status, answer = None, f"could not reach {url}: {getattr(error, 'reason', error)}"
            if status is not None and status < 500:
                break
        return status, answer

    def deliver_later(self, events: list[JSON]) -> None:
        """Deliver ``events`` in order from a thread, after a short delay (after the API call has answered)."""

        def run() -> None:
            time.sleep(self.delivery_delay)
            for event in events:
                status, answer = self.deliver(event)
                if status is None or status >= 300:
                    logger.warning(
                        "Stripe stand-in: webhook %s (%s) -> %s %s", event["type"], event["id"], status, answer
                    )

        threading.Thread(target=run, name="stripe-webhooks", daemon=True).start()

    def control(self, method: str, path: str, query: str, body: bytes) -> tuple[int, Any]:
        """The ``/_devstack/`` endpoints: (status, JSON)."""
        parts = path.strip("/").split("/")
        try:
            if method == "GET" and parts == ["_devstack", "payment_intents"]:
                order_id = urllib.parse.parse_qs(query).get("order_id", [None])[0]
                return 200, {"object": "list", "data": self.standin.find_payment_intents(order_id)}
            if method == "POST" and len(parts) == 4 and parts[1] == "payment_intents":
                action = {"succeed": self.standin.succeed, "fail": self.standin.fail, "dispute": self.standin.dispute}
                if parts[3] in action:
                    arguments = json.loads(body or b"{}")
                    if not isinstance(arguments, dict):
                        raise TypeError("the body must be a JSON object")
                    return 200, self._delivered(action[parts[3]](parts[2], **arguments))
            if method == "POST" and len(parts) == 4 and parts[1::2] == ["events", "deliver"]:
                return 200, self._delivered(self.standin.get(parts[2]))
        except StripeError as error:
            return error.status, error.body()
        except (TypeError, ValueError) as error:
            return 400, StripeError(400, f"Bad control request: {error}").body()
        return 404, StripeError(404, f"Unrecognized control URL ({method}: {path}).").body()

    def _delivered(self, event: JSON) -> JSON:
        status, answer = self.deliver(event)
        return {"event": event, "webhook_status": status, "webhook_body": answer}


def _parse(raw: bytes) -> Any:
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: StripeStandInServer


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"
    wbufsize = -1  # headers and body in one write: no ~40 ms delayed-ACK stall on kept-alive connections

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        owner = self.server.owner
        url = urllib.parse.urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers: dict[str, str] = {}
        if url.path.startswith("/_devstack/"):
            if self.client_address[0] not in LOOPBACK:
                status, payload = 403, StripeError(403, "Control endpoints answer loopback only.").body()
            else:
                status, payload = owner.control(self.command, url.path, url.query, body)
        else:
            response = owner.standin.handle(
                self.command, url.path, query=url.query, headers=dict(self.headers.items()), body=body
            )
            status, payload, headers = response.status, response.body, response.headers
            if response.events:
                owner.deliver_later(response.events)
        data = json.dumps(payload, indent=2, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        for name, value in {**headers, "Content-Type": "application/json", "Content-Length": str(len(data))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("Stripe stand-in: " + format, *args)
