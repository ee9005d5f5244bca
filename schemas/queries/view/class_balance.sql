-- Per round and class: predicted and selected images (the class balance before and after selection).
SELECT s.round, c.name AS class_name, s.predicted, s.selected, s.copies
FROM selection_classes s JOIN classes c USING (class_id)
ORDER BY s.round, c.class_id
