#!/usr/bin/python3
"""Reads a dead-letter topic from the beginning with an external Kafka client (confluent-kafka, from
Debian) and prints one JSON object per record: {"key", "value", "headers": {name: value}}. Used by
tests/e2e/dlq_test.cc to check what `--dlq-topic` publishes.

usage: consume_dlq.py BOOTSTRAP_SERVERS TOPIC EXPECTED_COUNT

Exit 0 once EXPECTED_COUNT records were read and no more arrive within 2 s; 1 on a timeout (30 s)
or a consumer error.
"""
import json
import sys
import time

from confluent_kafka import Consumer


def main():
    bootstrap, topic, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": f"dlq-reader-{time.time_ns()}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    consumer.subscribe([topic])
    records = []
    deadline = time.monotonic() + 30
    quiet_since = None
    while time.monotonic() < deadline:
        msg = consumer.poll(0.2)
        if msg is None:
            if len(records) >= expected:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since > 2:
                    break
            continue
        if msg.error():
            print(f"consumer error: {msg.error()}", file=sys.stderr)
            return 1
        quiet_since = None
        records.append({
            "key": (msg.key() or b"").decode("utf-8", "replace"),
            "value": msg.value().decode("utf-8", "replace"),
            "headers": {k: v.decode("utf-8", "replace") for k, v in (msg.headers() or [])},
        })
    consumer.close()
    for r in records:
        print(json.dumps(r))
    if len(records) < expected:
        print(f"read {len(records)} records, expected {expected}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
