-- Checkpoints with weights (an external one, from import-predictions, has none), newest first.
SELECT checkpoint_id FROM checkpoints
WHERE kind <> 'external' AND (? IS NULL OR round = ?) AND (? IS NULL OR starts_with(checkpoint_id, ?))
ORDER BY created_at DESC, checkpoint_id
