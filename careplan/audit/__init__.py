"""The supervisors' audit: overdue and missed steps across stores, regions and staff.

One query shape for every level (chain, region, store, staff), the step sources it
counts from, the report with its figures, and the step lists with their CSV rows.

May import: access, config, csv_export, errors, models, periods, vocab, audit, plans.
"""
