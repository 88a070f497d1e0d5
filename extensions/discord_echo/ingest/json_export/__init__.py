"""The streaming JSON reader: batches of whole messages parsed with orjson, truncation salvaged."""
