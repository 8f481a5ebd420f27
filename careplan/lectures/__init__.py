"""Health lectures: the calendar, seats and waitlist, invitations, check-in, attendance.

A lecture checked in on its day fulfils the plan step with its topic (through
plans.checkpoints, which decides what completing a step means).

May import: access, clock, errors, models, validation, vocab, lectures, members, plans, value.
"""
