SELECT round_a, flip_rate FROM drift_summary
