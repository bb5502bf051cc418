"""Every envelope variant of spec 1.4 becomes data or the right typed exception."""

from __future__ import annotations

import json

import pytest

from broker.mstock import errors
from broker.mstock.transport.client import parse_envelope


def _body(obj) -> bytes:
    return json.dumps(obj).encode()


@pytest.mark.parametrize("status", [True, "true", "True", "success", "SUCCESS"])
def test_success_status_variants_return_data(status):
    reply = parse_envelope(200, "application/json", _body({"status": status, "message": "SUCCESS", "data": {"a": 1}}))
    assert reply.data == {"a": 1}
    assert reply.message == "SUCCESS"


def test_list_wrapped_envelope_is_unwrapped():
    body = _body([{"status": "true", "message": "SUCCESS", "errorcode": "", "data": {"orderid": "1191241106101"}}])
    assert parse_envelope(200, "application/json", body).data == {"orderid": "1191241106101"}


def test_list_wrapped_success_with_order_id_key():
    body = _body([{"status": "success", "data": {"order_id": "1111250206114"}}])
    assert parse_envelope(200, "application/json", body).data == {"order_id": "1111250206114"}


def test_bare_array_is_returned_whole():
    rows = [{"token": "3045", "name": "SBIN-EQ"}, {"token": "22", "name": "ACC-EQ"}]
    assert parse_envelope(200, "application/json", _body(rows), bare_array=True).data == rows


def test_python_repr_none_data_is_null():
    body = _body({"status": "True", "message": "SUCCESS", "errorcode": "", "data": "None"})
    assert parse_envelope(200, "application/json", body).data is None


@pytest.mark.parametrize(
    ("http_status", "body", "expected", "code"),
    [
        (200, {"status": "false", "message": "RMS:1:...FUND LIMIT INSUFFICIENT", "errorcode": "RS-0111", "data": None}, errors.InsufficientFunds, "RS-0111"),
        (200, {"status": "false", "message": "Order is Cancelled.Kindly refresh your OrderBook", "errorcode": "RS-0034"}, errors.OrderRejected, "RS-0034"),
        (200, {"status": False, "message": "Invalid username or password. 9 attempts remaining ", "errorcode": "MA500"}, errors.BackOfficeError, "MA500"),
        (401, {"status": "false", "message": "Invalid request. Please try again.", "errorcode": "IA401", "data": None}, errors.SessionExpired, "IA401"),
        (403, {"status": "false", "message": "API is suspended/expired for use.", "errorcode": "IA403"}, errors.ApiKeyRejected, "IA403"),
        (400, {"status": "false", "message": "Trigger price can not be blank.", "errorcode": "IA400"}, errors.InputRejected, "IA400"),
        (400, {"status": "false", "message": "Enter valid trigger price.", "errorcode": "400"}, errors.InputRejected, "400"),
        (400, {"status": "error", "message": "Please enter correct TOTP", "error_type": "MA400", "data": None}, errors.BackOfficeError, "MA400"),
        (403, {"status": "error", "message": "Token expired", "error_type": "TokenException"}, errors.SessionExpired, "TokenException"),
        (200, {"status": "error", "message": "Please provide valid api version.", "error_type": "VersionException"}, errors.InputRejected, "VersionException"),
        (200, {"status": "error", "message": "Order Does not Exsist.", "error_type": "InputException"}, errors.InputRejected, "InputException"),
        (429, {"status": "false", "message": "Rate limit exceeded", "errorcode": "IA429"}, errors.RateLimited, "IA429"),
        (403, {"status": "error", "message": "API is suspended/expired for use.", "data": None}, errors.ApiKeyRejected, None),
        (500, {"status": "false", "message": "internal", "errorcode": "IA500"}, errors.ServerUnavailable, "IA500"),
    ],
)
def test_failures_raise_by_code_then_status(http_status, body, expected, code):
    with pytest.raises(expected) as caught:
        parse_envelope(http_status, "application/json", _body(body), route_name="orders.place")
    assert caught.value.code == code
    assert caught.value.http_status == http_status
    assert caught.value.message == body["message"].strip()
    assert caught.value.route == "orders.place"


def test_business_rejection_with_http_200_is_an_error_with_the_reason():
    body = _body({"status": "false", "message": "Order is Cancelled.Kindly refresh your OrderBook", "errorcode": "RS-00093", "data": None})
    with pytest.raises(errors.OrderRejected) as caught:
        parse_envelope(200, "application/json", body)
    assert str(caught.value) == "Order is Cancelled.Kindly refresh your OrderBook [RS-00093]"


def test_problem_details_becomes_input_rejected_with_field_errors():
    body = _body({
        "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        "title": "One or more validation errors occurred.",
        "status": 400,
        "errors": {"orders": ["The orders field is required."]},
        "traceId": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
    })
    with pytest.raises(errors.InputRejected) as caught:
        parse_envelope(400, "application/problem+json", body)
    assert caught.value.message == "One or more validation errors occurred. orders: The orders field is required."


@pytest.mark.parametrize("status", [502, 503, 504])
def test_html_gateway_page_is_transient(status):
    page = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    with pytest.raises(errors.ServerUnavailable) as caught:
        parse_envelope(status, "text/html", page)
    assert "502 Bad Gateway" in caught.value.message
    assert caught.value.http_status == status


def test_html_page_with_http_200_is_transient():
    with pytest.raises(errors.ServerUnavailable):
        parse_envelope(200, "text/html", b"<html><body>maintenance</body></html>")


def test_empty_body_on_success_is_bad_response():
    with pytest.raises(errors.BadResponse):
        parse_envelope(200, "application/json", b"")


def test_empty_body_on_401_is_session_expired():
    with pytest.raises(errors.SessionExpired):
        parse_envelope(401, "", b"")


def test_non_json_text_is_bad_response():
    with pytest.raises(errors.BadResponse):
        parse_envelope(200, "text/plain", b"OK")


def test_status_missing_but_data_present_is_success():
    assert parse_envelope(200, "application/json", _body({"data": [1, 2]})).data == [1, 2]


def test_unrecognised_status_without_data_is_bad_response():
    with pytest.raises(errors.BadResponse):
        parse_envelope(200, "application/json", _body({"status": "maybe"}))


def test_success_flag_with_http_error_is_still_an_error():
    with pytest.raises(errors.SessionExpired):
        parse_envelope(401, "application/json", _body({"status": True, "data": None}))
