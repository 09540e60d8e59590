"""Sends N requests one after another on one keep-alive connection.

    python3 bench/sequential_client.py PORT N healthz|authorize

`authorize` is the request bench/authorize.lua sends, with the bearer token
from GATEHOUSE_TOKEN. Any answer but 200 stops the run with an error.
"""

import http.client
import json
import os
import sys


def main() -> None:
    port, count, target = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    connection = http.client.HTTPConnection("127.0.0.1", port)
    body = json.dumps({"action": "pipeline.trigger", "resource": {"type": "Pipeline", "id": "acme/web:deploy"}})
    headers = {"Content-Type": "application/json", "Authorization": "Bearer " + os.environ.get("GATEHOUSE_TOKEN", "")}
    for _ in range(count):
        if target == "healthz":
            connection.request("GET", "/healthz")
        else:
            connection.request("POST", "/api/v1/authorize", body, headers)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            sys.exit(f"{target}: HTTP {response.status}")


if __name__ == "__main__":
    main()
