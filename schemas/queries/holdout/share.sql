-- The held-out share a checkpoint was trained with (`train --holdout`, in its config); 0 for a
-- checkpoint trained on every labeled image, or one the workspace does not know.
SELECT coalesce(max(TRY_CAST(config->>'$.train.holdout' AS DOUBLE)), 0.0) FROM checkpoints
WHERE checkpoint_id = $checkpoint_id
