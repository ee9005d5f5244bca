-- Checkpoints with weights (an external one, from import-predictions, has none), newest first.
SELECT checkpoint_id FROM checkpoints
WHERE kind <> 'external' AND ($round IS NULL OR round = $round) AND ($prefix IS NULL OR starts_with(checkpoint_id, $prefix))
ORDER BY created_at DESC, checkpoint_id
