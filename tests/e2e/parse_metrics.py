"""Parses a /metrics answer with the Prometheus client library's parser (python3-prometheus-client)
and prints each family ("NAME TYPE") and each sample ("sample NAME{labels sorted} VALUE").
Exit code 1, with the parser's error, when the text is not valid exposition format."""
import sys

from prometheus_client.parser import text_string_to_metric_families


def main():
    text = open(sys.argv[1], encoding="utf-8").read()
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser raises ValueError and friends on malformed input
        print(f"not valid exposition format: {e}")
        return 1
    for f in families:
        # The parser strips _total from counter family names; print the name as exposed.
        name = f.name + "_total" if f.type == "counter" else f.name
        print(f"{name} {f.type}")
        for s in f.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            print(f"sample {s.name}{{{labels}}} {float(s.value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
