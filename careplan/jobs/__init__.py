"""Background work on a job engine (huey): guidance-sheet batches, large till imports,
messages and the member-value snapshot.

The row a job works on (a SheetBatch, an ImportJob) is written in the business
transaction; the task carries its id (tasks.py). A consumer claims the row under a lease
before any work and seals it with the work's last commit, so a job is done once, however
often its task is delivered (lease.py, runs.py). `engine.py` is the one huey instance,
its queue in SQLite beside the database by default or in Redis for a chain.

May import: access, adherence, clock, config, db, errors, models, outreach, sheets, value,
vocab, jobs.
"""
