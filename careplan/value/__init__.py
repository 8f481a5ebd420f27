"""Member value: what members are worth to the store and how the store keeps them.

The snapshot of spend and visits per period (snapshot), from which spend tiers and the
frequency × spend quadrants are read; relationship grades; the member analysis; contact
plans by outlook; complaints; and each clerk's month.

May import: access, adherence, audit, clock, config, csv_export, db, errors, lectures, members,
models, periods, plans, staff, stores, trust, validation, vocab, value.
"""
