"""Care plans: protocols and the per-member plans made from them.

The protocol schema and its YAML files (protocol_schema, protocols), the dates a
protocol gives (schedule), a plan's life (lifecycle: enrol, pause, resume, stop, migrate,
the channels a step allows), working a step (checkpoints), escalations, the worklist, a
clerk's caseload and each person's workload, the catalogue of measurements, and
enrolment from a CSV file.

May import: access, clock, csv_records, errors, models, validation, vocab, members, plans, trust.
"""
