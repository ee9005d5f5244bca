SELECT s.class_id, c.name, s.predicted, s.above_threshold, s.after_dedup, s.selected, s.copies, s.cutoff
FROM selection_classes s JOIN classes c USING (class_id) WHERE s.round = ? ORDER BY s.class_id
