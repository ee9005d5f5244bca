SELECT checkpoint_id FROM checkpoints WHERE run_id = $run_id ORDER BY created_at DESC LIMIT 1
