#!/usr/bin/python3
"""An external Kafka client (confluent-kafka, from Debian) producing order-line events to lakestream's
embedded broker. Used by tests/e2e/run_e2e_test.cc.

usage: produce_external.py BOOTSTRAP_SERVERS TOPIC

Sends 3 valid events for the country 'Atlantis' and 1 event that breaks the contract (Price is text),
each with a text header and a binary one, then waits for every delivery report. Exit 0 when all 4 were acknowledged.
"""
import json
import sys
import uuid

from confluent_kafka import Producer


def event(i, price):
    return {
        "event_type": "order_line",
        "schema_version": 1,
        "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"external-test-{i}")),
        "event_time": "2011-12-10T09:00:00Z",
        "source": {"name": "external-test"},
        "TransactionNo": f"990{i:03d}",
        "Date": "2011-12-10 09:00:00",
        "ProductNo": "EXT1",
        "ProductName": "EXTERNAL TEST PRODUCT",
        "Price": price,
        "Quantity": 2,
        "CustomerNo": "12345",
        "Country": "Atlantis",
    }


def main():
    bootstrap, topic = sys.argv[1], sys.argv[2]
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    errors = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(str(err))

    for i, price in enumerate([1.5, 2.25, 10, "not a price"]):
        e = event(i, price)
        p.produce(topic, key=e["TransactionNo"], value=json.dumps(e).encode(), on_delivery=on_delivery,
                  headers=[("trace-id", f"t-{i}".encode()), ("raw", b"\xff\x00")])
    remaining = p.flush(30)
    if remaining or errors:
        print(f"not delivered: {remaining} remaining, errors {errors}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
