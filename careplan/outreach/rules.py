"""When a message may leave, and how many a member gets: each decided here, once.

- The sending window (quiet hours): nothing leaves outside the chain's window (default
  09:00–20:00 local time); a message built at night waits for the next opening.
- The weekly cap: at most N messages (default 2) to a member in any 7 days, the
  lecture-day reminder excepted (the member asked for the seat). When a day's reasons
  exceed what is left, the more useful go first (PRIORITY).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from careplan.vocab import MessageReason

CAP_DAYS = 7
# Never held back by the cap, and not counted in it.
UNCAPPED = frozenset({MessageReason.lecture_reminder})
# Which reasons go first when the cap leaves room for only some: care before courtesy.
PRIORITY = (
    MessageReason.lecture_reminder,
    MessageReason.step_reminder,
    MessageReason.step_nudge,
    MessageReason.refill,
    MessageReason.lecture_invitation,
    MessageReason.welcome,
    MessageReason.birthday,
    MessageReason.festival,
)


@dataclass(frozen=True)
class Window:
    opens: time
    closes: time

    @classmethod
    def parse(cls, text: str) -> Window:
        """ "09:00-20:00" (the setting's pattern has checked the shape)."""
        start, end = text.split("-")
        return cls(time.fromisoformat(start), time.fromisoformat(end))

    def is_open(self, moment: datetime, zone: ZoneInfo) -> bool:
        local = moment.astimezone(zone).time()
        if self.opens <= self.closes:
            return self.opens <= local < self.closes
        return local >= self.opens or local < self.closes  # a window across midnight

    def next_opening(self, moment: datetime, zone: ZoneInfo) -> datetime:
        """`moment` itself when the window is open, else the next time it opens."""
        if self.is_open(moment, zone):
            return moment
        local = moment.astimezone(zone)
        opening = datetime.combine(local.date(), self.opens, zone)
        if opening <= local:
            opening = datetime.combine(local.date() + timedelta(days=1), self.opens, zone)
        return opening.astimezone(moment.tzinfo)

    def opening_on(self, day: date, zone: ZoneInfo, now: datetime) -> datetime:
        """The first moment of `day`'s window, or now if that is already past."""
        opening = datetime.combine(day, self.opens, zone).astimezone(now.tzinfo)
        return self.next_opening(max(opening, now), zone)


def counts_in_cap(reason: MessageReason) -> bool:
    return reason not in UNCAPPED


def within_cap(
    wanted: Iterable[MessageReason], already: int, cap: int
) -> tuple[list[MessageReason], list[MessageReason]]:
    """Of a member's reasons for one day, those that go and those the cap holds back,
    given how many capped messages they already have in the 7 days."""
    room = max(cap - already, 0)
    going: list[MessageReason] = []
    held: list[MessageReason] = []
    for reason in sorted(wanted, key=PRIORITY.index):
        if not counts_in_cap(reason):
            going.append(reason)
        elif room > 0:
            going.append(reason)
            room -= 1
        else:
            held.append(reason)
    return going, held


def cap_window(day: date) -> tuple[date, date]:
    """The 7 days the cap counts over, ending with `day`."""
    return day - timedelta(days=CAP_DAYS - 1), day
