"""Measured adherence: what members bought and how well it covers their days.

Purchases (one by one, and the till's CSV import with its background jobs and
history), the drug classes products map to, PDC (proportion of days covered), and the
refill steps that follow a member's supply (measured).

May import: access, csv_export, csv_records, db, errors, models, validation, vocab, adherence,
members, plans, trust, value.
"""
