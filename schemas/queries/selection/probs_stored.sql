SELECT count(probs) > 0 FROM predictions WHERE round = ? AND split = 'unlabeled'
