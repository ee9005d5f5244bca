SELECT image_id, split, true_name, label_a, label_b, confidence_a, confidence_b FROM negative_flips
WHERE round_a = $round_a AND round_b = $round_b AND kind = 'negative' ORDER BY confidence_b DESC LIMIT $limit
