"""status: the only writer of the MongoDB read model; folds every lifecycle event into it."""
