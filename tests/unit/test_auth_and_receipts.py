import pytest

from functions.domain.messages import MessageStatus, RejectReason, new_id
from functions.logic.auth import Permission, Principal, bearer_token, hash_key, new_key
from functions.logic.receipts import FINAL_EVENTS


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer sms_abc", "sms_abc"),
        ("bearer   sms_abc ", "sms_abc"),
        ("Basic xyz", None),
        ("Bearer", None),
        (None, None),
    ],
)
def test_bearer_tokens(header, token):
    assert bearer_token(header) == token


def test_keys_are_random_and_only_their_hash_is_kept():
    first, second = new_key(), new_key()
    assert first != second
    assert first.startswith("sms_")
    assert len(hash_key(first)) == 64
    assert hash_key(first) != first


def test_a_principal_survives_the_authorizer_context():
    principal = Principal(tenant_id="t1", permissions=frozenset({Permission.VIEW_SMS, Permission.CREATE_SMS}))
    assert Principal.from_context(principal.to_context()) == principal
    assert Principal.from_context({}) is None


def test_every_final_delivery_event_fails_with_a_reason_or_delivers():
    for status, reason in FINAL_EVENTS.values():
        assert (status is MessageStatus.DELIVERED) == (reason is None)
        assert status in {MessageStatus.DELIVERED, MessageStatus.FAILED}
    assert FINAL_EVENTS["TEXT_TTL_EXPIRED"] == (MessageStatus.FAILED, RejectReason.EXPIRED)
    assert "TEXT_SUCCESSFUL" not in FINAL_EVENTS


def test_message_ids_sort_by_creation():
    ids = [new_id("msg") for _ in range(50)]
    assert len(set(ids)) == 50
    assert all(len(i) == len("msg_") + 26 for i in ids)
