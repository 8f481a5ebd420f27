"""Demo and synthetic data: the `make run` demo chain and the benchmark chains.

chain seeds the demo stores, staff and members through the domain's own functions;
synthetic generates large chains for the benchmarks (history written in bulk by
synthetic_steps).

May import: access, config, errors, models, sign_in, staff, vocab, adherence, demo, lectures,
members, outreach, plans, value.
"""
