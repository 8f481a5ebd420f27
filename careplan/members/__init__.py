"""The member archive: who a member is and what the chain holds on them.

archive (create, find, edit, owner and hand-over, holiday cover), consent to health
data, special occasions, pinyin search keys, health-check records, the right of access
(export) and erasure, and the list of every record that holds a member's data (records).
Consent withdrawal and erasure stop the member's plans, so they call plans.

May import: access, clock, config, errors, models, validation, vocab, staff, trust, members, plans,
value.
"""
