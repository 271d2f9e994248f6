"""The demo database: a plausible B2B software company, so every page has something true to show.

Three segments with their own deal sizes and cycles, ten teams over three regions, 30 reps;
deals move through the handbook stages, push and pull their close dates, change amount and now
and then owner, and are recorded as weekly snapshots (stored as changes) over at least six
completed fiscal quarters up to `as_of`. Targets, weekly rep submissions and saved in-blood calls
are derived from the simulated deals so coverage, attainment and accuracy read like a real company.

Modules, in the order a build uses them:
- company: the fixed cast (segment profiles, teams, reps, products, reasons, names)
- fiscal: days, weekly snapshot dates, fiscal quarter and month lookups
- deals: who the deals are (creation, segment, account, rep, type, channel, amount)
- simulate: each deal's life as event times (stages, close dates, outcome, changes)
- history: the events read at weekly snapshots, as change rows
- tables, plan: writing deals and history; targets, submissions and saved calls
- build: build_demo, which builds the file aside and swaps it in
"""

from sales.demo.build import build_demo

__all__ = ["build_demo"]
