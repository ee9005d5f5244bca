SELECT s.class_id, c.name, s.predicted, s.above_threshold, s.after_dedup, s.selected, s.copies, s.cutoff,
       s.threshold, s.threshold_source, s.val_precision, s.val_lower_bound, s.expected_precision, s.shift_p
FROM selection_classes s JOIN classes c USING (class_id) WHERE s.round = $round ORDER BY s.class_id
