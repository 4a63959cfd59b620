"""A local SMTP sink for the fan-out benchmark, run as its own process so that its work
does not share a GIL with what is being measured.

``python -m bench.smtp_sink PORT STATUS_FILE`` accepts every message and, five times a
second, writes "<messages accepted> <monotonic time of the last one>" to STATUS_FILE.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class Counter:
    def __init__(self) -> None:
        self.count = 0
        self.last = 0.0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        self.last = time.monotonic()
        return "250 OK"


def main() -> None:
    port, status = int(sys.argv[1]), Path(sys.argv[2])
    counter = Counter()
    controller = Controller(counter, hostname="127.0.0.1", port=port)
    controller.start()

    async def report() -> None:
        while True:
            status.write_text(f"{counter.count} {counter.last}")
            await asyncio.sleep(0.2)

    try:
        asyncio.run(report())
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
