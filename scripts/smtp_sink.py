#!/usr/bin/env python3
"""A real SMTP server (aiosmtpd's Controller) for the SMTP adapter's tests.

    PYTHONPATH="$(scripts/aiosmtpd.sh path)" python3 scripts/smtp_sink.py PORT FILE

Listens on 127.0.0.1:PORT (0: a free port) and prints the port on its first line of output.
Appends every accepted message to FILE as one JSON line: {"mail_from", "rcpt_tos", "raw"}, the
raw text as received. Refuses recipients by rule, so that faults can be tested:
  RCPT TO:<refuse@...>  ->  550 5.1.1 mailbox refused
  RCPT TO:<busy@...>    ->  451 4.3.0 try again later
Runs until its standard input closes (the test ended) or it is killed.
"""

import json
import sys
import threading

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("refuse@"):
            return "550 5.1.1 mailbox refused"
        if address.startswith("busy@"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        line = json.dumps(
            {
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "raw": envelope.original_content.decode("utf-8"),
            },
            ensure_ascii=False,
        )
        with self.lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
        return "250 2.0.0 message accepted"


class AnyPortController(Controller):
    """A Controller that may listen on port 0: it learns the port the system chose before
    connecting to itself to check that it is up."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def main():
    if len(sys.argv) != 3:
        print("usage: smtp_sink.py PORT FILE", file=sys.stderr)
        sys.exit(2)
    port, path = int(sys.argv[1]), sys.argv[2]
    controller = AnyPortController(Sink(path), hostname="127.0.0.1", port=port)
    controller.start()
    print(controller.port, flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
