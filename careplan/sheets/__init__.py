"""Guidance sheets: what each printed sheet says, which are due today, and batches.

A sheet's content (steps, checklist, readings, next contact, supply) is built here;
laying it out as a PDF is the interfaces' job (web/sheet_pdf.py), passed in as `render`.
A batch is queued here and rendered by a job (careplan/jobs), which claims its row.

May import: access, clock, config, db, errors, models, vocab, adherence, plans, sheets.
"""
