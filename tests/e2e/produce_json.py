#!/usr/bin/python3
"""Produces each line of a file as one Kafka record (confluent-kafka, from Debian), keyed by its
customer_id when the line is a JSON object that has one. Used by tests/e2e/notifications_test.cc.

usage: produce_json.py BOOTSTRAP_SERVERS TOPIC FILE

Exit 0 once every record is acknowledged.
"""
import json
import sys

from confluent_kafka import Producer


def main():
    bootstrap, topic, path = sys.argv[1], sys.argv[2], sys.argv[3]
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    errors = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(str(err))

    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            try:
                key = str(json.loads(line).get("customer_id", ""))
            except (ValueError, AttributeError):
                key = "unparseable"
            p.produce(topic, value=line.encode("utf-8"), key=key.encode("utf-8"), on_delivery=on_delivery)
    p.flush(30)
    if errors or len(p) > 0:
        print("delivery failed:", errors, len(p), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
