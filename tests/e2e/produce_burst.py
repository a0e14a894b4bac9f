#!/usr/bin/python3
"""A burst from an external Kafka client (confluent-kafka, from Debian) while no consumer reads: N order-line
events of about SIZE bytes each, as fast as the broker acknowledges them. Used by tests/e2e/reliability_test.cc
to overflow the embedded broker's partitions.

usage: produce_burst.py BOOTSTRAP_SERVERS TOPIC N SIZE [RECORD_BYTES]

With RECORD_BYTES, first sends one record of that many bytes on its own (message.max.bytes raised to allow
it) and prints its delivery error, then the burst. Prints how many were acknowledged; exit 0 when every one
of the burst was, 1 otherwise.
"""
import json
import sys
import uuid

from confluent_kafka import Producer


def main():
    bootstrap, topic, n, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    conf = {"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5,
            "message.timeout.ms": 180000}
    if len(sys.argv) > 5:
        big = int(sys.argv[5])
        q = Producer({"bootstrap.servers": bootstrap, "message.max.bytes": big + 100000,
                      "message.timeout.ms": 30000})
        outcome = []
        q.produce(topic, key=b"big", value=b"x" * big, on_delivery=lambda err, msg: outcome.append(err))
        q.flush(30)
        print(f"large record of {big} bytes: {outcome[0] if outcome else 'no delivery report'}")
    p = Producer(conf)
    errors = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(str(err))

    for i in range(n):
        e = {"event_type": "order_line", "schema_version": 1,
             "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"burst-{i}")),
             "event_time": "2011-12-10T09:00:00Z", "source": {"name": "burst"}, "TransactionNo": f"9{i:06d}",
             "Date": "2011-12-10 09:00:00", "ProductNo": "BURST1", "ProductName": "X" * size, "Price": 1.5,
             "Quantity": 2, "CustomerNo": "12345", "Country": "United Kingdom"}
        while True:
            try:
                p.produce(topic, key=e["TransactionNo"], value=json.dumps(e).encode(), on_delivery=on_delivery)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
    remaining = p.flush(180)
    print(f"acknowledged {n - remaining - len(errors)} of {n}; errors: {errors[:3]}")
    return 0 if remaining == 0 and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
