SELECT max(round) FROM checkpoints
