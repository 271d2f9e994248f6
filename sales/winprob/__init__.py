"""Deal win probabilities and the projection
(docs/metrics.md#17-deal-win-probability-and-the-projection).

- features: the training and scoring rows, from the weekly states, strictly what was known then
- model: gradient-boosted trees, calibrated on a later slice of time, signed factors per deal
- projection: the Monte Carlo over the open deals plus what is won from deals not scored yet
- store: the model cached beside the database, keyed on the data version
"""
