"""The `log` provider: sends nothing, keeps what would have been sent, one JSON line a
message in a file of the work folder (the demo and the tests use it; a page shows it).

It can tell whether a message left (`sent_before`), so a message a crash left
"sending" is settled from the file, never sent twice.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from careplan.outreach.provider import BadCallback, Outgoing, Parsed, Sent
from careplan.vocab import MessageChannel

FILE_NAME = "outbox-log.jsonl"


class LogProvider:
    name = "log"

    def __init__(self, channel: MessageChannel, folder: Path) -> None:
        self.channel = channel
        self.path = folder / FILE_NAME
        self._lock = threading.Lock()

    def send(self, message: Outgoing) -> Sent:
        line = {
            "id": message.message_id,
            "channel": message.channel.value,
            "to": message.to,
            "template": message.template_code,
            "variables": dict(message.variables),
            "text": message.text,
            "at": datetime.now(UTC).isoformat(),
        }
        data = (json.dumps(line, ensure_ascii=False) + "\n").encode()
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # One write of one line with O_APPEND: consumers in other processes append
            # whole lines too.
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
        return Sent(provider_id=f"log-{message.message_id}")

    def sent_before(self, message_id: int) -> Sent | bool:
        for line in read_log(self.path):
            if line.get("id") == message_id:
                return Sent(provider_id=f"log-{message_id}")
        return False

    def callback(self, headers: Mapping[str, str], body: bytes) -> Parsed:
        raise BadCallback("the log provider receives nothing")


def read_log(path: Path, last: int | None = None) -> list[dict[str, Any]]:
    """The lines kept, oldest first (the last `last` of them)."""
    if not path.exists():
        return []
    lines = path.read_text("utf-8").splitlines()
    if last is not None:
        lines = lines[-last:]
    return [json.loads(x) for x in lines if x.strip()]
