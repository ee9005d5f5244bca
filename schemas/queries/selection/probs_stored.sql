SELECT count(probs) > 0 FROM predictions WHERE round = $round AND split = 'unlabeled'
