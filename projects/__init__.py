"""The work side of the marketplace, one Django app per concept.

`briefs` (briefs, bids, search, matching) ← `contracts` (contracts, milestones,
deliveries, disputes) ← `reviews` and `messaging` ← `demo`. Each imports only
the ones before it.
"""
