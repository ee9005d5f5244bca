SELECT * FROM drift_summary WHERE round_a = ? AND round_b = ?
