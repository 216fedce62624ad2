"""SNS notifications and the warehouse's SQS queue: the only code that publishes or sends messages."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.adapters import aws
from chalicelib.domain.notifications import CUSTOMER, Notification


class SnsNotifier:
    """Staff topic: attribute ``event_type`` (and ``approval_role`` for approvals). Customer topic: ``customer_id`` and
    ``event_type``."""

    def __init__(self, staff_topic_arn: str, customer_topic_arn: str, client: Any = None) -> None:
        """``client``: an SNS client; by default one from the container's shared session."""
        self._topics = {"staff": staff_topic_arn, CUSTOMER: customer_topic_arn}
        self._sns = client or aws.client("sns")

    def publish(self, notification: Notification) -> None:
        """Publish ``notification`` on its audience's topic, with the attributes subscribers filter on."""
        attributes = {"event_type": {"DataType": "String", "StringValue": notification.event_type}}
        if notification.customer_id:
            attributes["customer_id"] = {"DataType": "String", "StringValue": notification.customer_id}
        for name, value in notification.attributes.items():
            attributes[name] = {"DataType": "String", "StringValue": value}
        self._sns.publish(
            TopicArn=self._topics[notification.audience],
            Subject=notification.subject,
            Message=json.dumps(notification.message, ensure_ascii=False, default=str),
            MessageAttributes=attributes,
        )


class SqsFulfilmentRequests:
    """The warehouse's ``fulfilment-requests`` queue."""

    def __init__(self, queue_url: str, client: Any = None) -> None:
        """``client``: an SQS client; by default one from the container's shared session."""
        self._url = queue_url
        self._sqs = client or aws.client("sqs")

    def send(self, message: dict, dedupe_key: str) -> None:
        """Send ``message`` with its order id as the ``order_id`` attribute."""
        self._sqs.send_message(
            QueueUrl=self._url,
            MessageBody=json.dumps(message, ensure_ascii=False, default=str),
            MessageAttributes={"order_id": {"DataType": "String", "StringValue": dedupe_key}},
        )
