"""AWS End User Messaging SMS (pinpoint-sms-voice-v2) as the carrier."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ParamValidationError,
)

from functions.carriers.base import (
    CarrierInDoubt,
    CarrierRejected,
    CarrierThrottled,
    CarrierUnavailable,
    OutboundSms,
)
from functions.domain.messages import RejectReason

if TYPE_CHECKING:
    from mypy_boto3_pinpoint_sms_voice_v2.client import PinpointSMSVoiceV2Client

_THROTTLED = {"ThrottlingException", "ServiceQuotaExceededException"}
# ConflictException reasons the service documents for a destination that can never be sent to: the
# message fails (refunded); the others are about the origination or the account, and back the code off.
_CONFLICT_REASONS = {
    "DESTINATION_PHONE_NUMBER_OPTED_OUT": RejectReason.OPTED_OUT,
    "DESTINATION_PHONE_NUMBER_NOT_VERIFIED": RejectReason.CARRIER_REJECTED,  # the account's sandbox
    "DESTINATION_PHONE_NUMBER_BLOCKED_BY_PROTECT_NUMBER_OVERRIDE": RejectReason.BLOCKED,
    "DESTINATION_COUNTRY_BLOCKED_BY_PROTECT_CONFIGURATION": RejectReason.BLOCKED,
}
# The service failed: whether it took the message first, nobody knows.
_IN_DOUBT = {"InternalServerException"}
_VALIDATION_REASONS = {
    "INVALID_PARAMETER": RejectReason.CARRIER_REJECTED,
    "DESTINATION_COUNTRY_BLOCKED": RejectReason.BLOCKED,
}


class AwsSmsCarrier:
    def __init__(
        self, client: PinpointSMSVoiceV2Client, configuration_set: str | None, time_to_live_seconds: int
    ) -> None:
        self._client = client
        self._configuration_set = configuration_set
        self._time_to_live_seconds = time_to_live_seconds

    def send(self, sms: OutboundSms) -> str:
        request = {
            "DestinationPhoneNumber": sms.destination_number,
            "OriginationIdentity": sms.origination_number,
            "MessageBody": sms.body,
            "MessageType": "TRANSACTIONAL",
            "TimeToLive": self._time_to_live_seconds,
            # Delivery events carry this map back, which is how a receipt finds its message.
            "Context": {"message_id": sms.message_id, "tenant_id": sms.tenant_id},
        }
        if self._configuration_set:
            request["ConfigurationSetName"] = self._configuration_set
        try:
            response = self._client.send_text_message(**request)  # type: ignore[arg-type]
        except ClientError as error:
            raise _map_error(error) from error
        except (ParamValidationError, ValueError, TypeError, struct.error) as error:
            # Refused by the client before any request left: never sent, and never sendable as it is.
            raise CarrierRejected(
                RejectReason.CARRIER_REJECTED, f"the request was refused: {error}"
            ) from error
        except (EndpointConnectionError, ConnectTimeoutError) as error:
            raise CarrierUnavailable(f"the carrier could not be reached: {error}") from error
        return response["MessageId"]


def _map_error(error: ClientError) -> Exception:
    code = error.response["Error"]["Code"]
    reason = str(error.response.get("Reason", ""))
    detail = f"{code}: {error.response['Error'].get('Message', '')}".strip()
    if code in _THROTTLED:
        return CarrierThrottled(detail)
    if code == "ConflictException" and reason in _CONFLICT_REASONS:
        return CarrierRejected(_CONFLICT_REASONS[reason], detail)
    if code == "ValidationException":
        return CarrierRejected(_VALIDATION_REASONS.get(reason, RejectReason.INVALID_NUMBER), detail)
    if code in _IN_DOUBT:
        return CarrierInDoubt(detail)
    return CarrierUnavailable(detail)
