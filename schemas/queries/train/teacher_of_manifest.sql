SELECT checkpoint_id FROM selections WHERE manifest_hash = ? LIMIT 1
