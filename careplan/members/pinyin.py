"""Pinyin initials of names, so staff can find 王秀英 by typing "wxy" on a tablet."""

from __future__ import annotations

import re

MAX_VARIANTS = 4


def name_initials(name: str) -> str:
    """Space-separated initials; a surname with several readings (单: shan/dan, 曾:
    zeng/ceng) gives one variant per reading, so either spelling finds the member."""
    name = name.strip()
    if not name:
        return ""
    if re.fullmatch(r"[A-Za-z .'-]+", name):
        return "".join(word[0] for word in name.lower().split())
    # Imported here: its phrase dictionary takes half a second to load, which every
    # `careplan` command and worker process would otherwise pay before its first line.
    from pypinyin import Style, pinyin

    letters = pinyin(name, style=Style.FIRST_LETTER, heteronym=True, errors="ignore")
    letters = [[c.lower() for c in options if c.isalnum()] for options in letters]
    letters = [options for options in letters if options]
    if not letters:
        return ""
    rest = "".join(options[0][0] for options in letters[1:])
    firsts = list(dict.fromkeys(options[0] for options in letters[0]))[:MAX_VARIANTS]
    return " ".join(first + rest for first in firsts)
