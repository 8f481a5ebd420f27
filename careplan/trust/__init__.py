"""What makes the records trustworthy: who changed and who looked, and copies.

The change log (every change to health data, attributable), the access log (who
looked at whose record), the hash chains (ledger, one per person) that make both
tamper-evident, and the online backup and restore.

May import: access, db, errors, migrate, models, trust.
"""
