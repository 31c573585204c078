"""Signing, message ids and the address policy of webhooks (no network)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress

import pytest

from shared.webhooks import (
    EndpointRefusedError,
    is_allowed,
    message_id,
    new_secret,
    parse_networks,
    resolve_endpoint,
    sign,
    verify,
)


def test_the_signature_is_standard_webhooks_hmac_of_id_timestamp_and_body() -> None:
    secret = new_secret()
    body = b'{"type":"document.completed"}'
    header = sign(secret, "msg_1", 1700000000, body)
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, b"msg_1.1700000000." + body, hashlib.sha256).digest()
    assert header == "v1," + base64.b64encode(mac).decode()
    assert verify(secret, "msg_1", 1700000000, body, f"v1,bogus {header}")
    assert not verify(secret, "msg_1", 1700000001, body, header)
    assert not verify(secret, "msg_1", 1700000000, body + b" ", header)
    assert not verify(new_secret(), "msg_1", 1700000000, body, header)


def test_the_message_id_is_stable_per_document_generation_and_outcome() -> None:
    first = message_id("doc", 1, "document.completed")
    assert first == message_id("doc", 1, "document.completed")
    assert first != message_id("doc", 2, "document.completed")
    assert first != message_id("doc", 1, "document.failed")


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:10.0.0.1",
        "2002:0a00:0001::",  # 6to4 around 10.0.0.1
        "224.0.0.1",
    ],
)
def test_private_loopback_and_link_local_addresses_are_refused_by_default(address: str) -> None:
    assert not is_allowed(ipaddress.ip_address(address), ())


def test_public_addresses_pass_and_allowed_networks_open_private_ones() -> None:
    assert is_allowed(ipaddress.ip_address("93.184.215.14"), ())
    assert is_allowed(ipaddress.ip_address("2606:4700::1111"), ())
    allowed = parse_networks("127.0.0.0/8, ::1/128")
    assert is_allowed(ipaddress.ip_address("127.0.0.5"), allowed)
    assert is_allowed(ipaddress.ip_address("::1"), allowed)
    assert not is_allowed(ipaddress.ip_address("10.0.0.1"), allowed)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/x", "invalid_url"),
        ("http://user:pw@93.184.215.14/", "invalid_url"),
        ("http://93.184.215.14:99999/", "invalid_url"),
        ("http://10.0.0.1/hook", "private_address"),
        ("http://[::ffff:127.0.0.1]/hook", "private_address"),
        # resolved from /etc/hosts: the check is on what a name resolves to
        ("http://localhost:8080/hook", "private_address"),
        ("http://no-such-host.invalid/hook", "unresolvable_host"),
    ],
)
async def test_endpoints_are_refused_with_a_reason(url: str, reason: str) -> None:
    with pytest.raises(EndpointRefusedError) as refused:
        await resolve_endpoint(url, ())
    assert refused.value.reason == reason


async def test_an_allowed_endpoint_keeps_its_host_and_checked_addresses() -> None:
    target = await resolve_endpoint(
        "http://localhost:8080/hook", parse_networks("127.0.0.0/8, ::1/128")
    )
    assert (target.host, target.port) == ("localhost", 8080)
    assert ipaddress.ip_address("127.0.0.1") in target.addresses
