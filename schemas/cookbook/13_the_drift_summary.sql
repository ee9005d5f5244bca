-- The drift summary
SELECT round_a, round_b, images, round(flip_rate, 3) AS flip_rate, round(js_divergence, 4) AS js,
       selection_entered, selection_left, selection_kept
FROM drift_summary
