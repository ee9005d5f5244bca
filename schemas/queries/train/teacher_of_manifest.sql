-- The teacher whose predictions a manifest holds, when it is a checkpoint with weights (a student of
-- imported predictions has no parent to start from or inherit settings of).
SELECT s.checkpoint_id FROM selections s JOIN checkpoints c USING (checkpoint_id)
WHERE s.manifest_hash = $manifest_hash AND c.kind <> 'external' LIMIT 1
