import pytest

from functions.domain.messages import MessageStatus, RejectReason, new_id
from functions.logic.auth import Permission, Principal, bearer_token, hash_key, new_key
from functions.logic.receipts import DeliveryEvent


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


# AWS End User Messaging's documented SMS event example (its user guide, "SMS example log").
DOCUMENTED_EVENT = {
    "eventType": "TEXT_SUCCESSFUL", "eventVersion": "1.0", "eventTimestamp": 1686975103470, "isFinal": True,
    "originationPhoneNumber": "+12065550152", "destinationPhoneNumber": "+14255550156",
    "isInternationalSend": False, "mcc": "310", "mnc": "800", "messageId": "862a8790-60c0-4430-9b2b-658bdexample",
    "messageRequestTimestamp": 1686975103170, "messageEncoding": "GSM", "messageType": "PROMOTIONAL",
    "messageStatus": "SUCCESSFUL", "messageStatusDescription": "Message has been accepted by phone carrier",
    "context": {"account": "bar"}, "totalMessageParts": 1, "totalMessagePrice": 0.09582, "totalCarrierFee": 0.0,
}  # fmt: skip


@pytest.mark.parametrize(
    ("event_type", "is_final", "outcome"),
    [
        ("TEXT_SUCCESSFUL", True, (MessageStatus.DELIVERED, None)),  # where no TEXT_DELIVERED comes
        ("TEXT_SUCCESSFUL", False, None),  # accepted by the carrier, TEXT_DELIVERED to follow
        ("TEXT_DELIVERED", True, (MessageStatus.DELIVERED, None)),
        ("TEXT_CARRIER_UNREACHABLE", False, None),  # documented as temporary
        ("TEXT_CARRIER_UNREACHABLE", True, (MessageStatus.FAILED, RejectReason.UNREACHABLE)),
        ("TEXT_TTL_EXPIRED", True, (MessageStatus.FAILED, RejectReason.EXPIRED)),
        ("TEXT_QUEUED", False, None),
        ("TEXT_SOMETHING_NEW", True, None),  # a type nobody mapped ends nothing
    ],
)
def test_is_final_decides_whether_a_delivery_event_ends_the_message(event_type, is_final, outcome):
    event = DeliveryEvent.model_validate({**DOCUMENTED_EVENT, "eventType": event_type, "isFinal": is_final})
    assert event.outcome() == outcome


def test_the_documented_example_is_a_final_delivery():
    assert DeliveryEvent.model_validate(DOCUMENTED_EVENT).outcome() == (MessageStatus.DELIVERED, None)


def test_an_event_without_is_final_is_taken_by_its_type():
    assert DeliveryEvent(eventType="TEXT_DELIVERED").outcome() == (MessageStatus.DELIVERED, None)
    assert DeliveryEvent(eventType="TEXT_SUCCESSFUL").outcome() is None
    assert DeliveryEvent(eventType="TEXT_CARRIER_UNREACHABLE").outcome() is None
    assert DeliveryEvent(eventType="TEXT_SPAM").outcome() == (MessageStatus.FAILED, RejectReason.SPAM)


def test_message_ids_sort_by_creation():
    ids = [new_id("msg") for _ in range(50)]
    assert len(set(ids)) == 50
    assert all(len(i) == len("msg_") + 26 for i in ids)
