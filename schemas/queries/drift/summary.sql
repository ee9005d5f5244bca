SELECT * FROM drift_summary WHERE round_a = $round_a AND round_b = $round_b
