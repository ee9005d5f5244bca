SELECT checkpoint_id FROM checkpoints
WHERE (? IS NULL OR round = ?) AND (? IS NULL OR starts_with(checkpoint_id, ?))
ORDER BY created_at DESC, checkpoint_id
