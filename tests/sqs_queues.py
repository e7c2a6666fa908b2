#!/usr/bin/env python3
"""The independent side of the sqs sink's tests, with boto3 (an AWS client the host does
not use), against the test's SQS-compatible server (moto).

Usage:
  sqs_queues.py ENDPOINT create NAME [MAXIMUM_MESSAGE_SIZE]
      Create the queue (a FIFO queue without content-based deduplication when NAME ends in
      .fifo) and print its URL.
  sqs_queues.py ENDPOINT read QUEUE_URL
      Print every message as a JSON array, deleting each once read (a FIFO group hands out
      its next messages only then).

Each message: {"body", "attributes": {name: [DataType, StringValue]}, "group", "dedup"}.
The credentials and region are given here (test/test, us-east-1), never read from the
environment.
"""
import json
import sys

import boto3


def client(endpoint):
    return boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


def create(sqs, name, maximum_size=None):
    attributes = {}
    if name.endswith(".fifo"):
        attributes.update(FifoQueue="true", ContentBasedDeduplication="false")
    if maximum_size:
        attributes["MaximumMessageSize"] = maximum_size
    print(sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])


def receive(sqs, url):
    answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                 VisibilityTimeout=30, MessageAttributeNames=["All"],
                                 MessageSystemAttributeNames=["All"])
    return answer.get("Messages", [])


def shown(m):
    system = m.get("Attributes", {})
    return {
        "body": m["Body"],
        "attributes": {k: [v["DataType"], v.get("StringValue")]
                       for k, v in m.get("MessageAttributes", {}).items()},
        "group": system.get("MessageGroupId"),
        "dedup": system.get("MessageDeduplicationId"),
    }


def read(sqs, url):
    out, empty = [], 0
    # Bounded: an empty answer twice in a row ends it, and no test sends 1,000.
    while empty < 2 and len(out) < 1000:
        messages = receive(sqs, url)
        if not messages:
            empty += 1
            continue
        empty = 0
        out.extend(shown(m) for m in messages)
        sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
    print(json.dumps(out))


def main():
    endpoint, command, *args = sys.argv[1:]
    sqs = client(endpoint)
    if command == "create":
        create(sqs, *args)
    elif command == "read":
        read(sqs, args[0])
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main()
