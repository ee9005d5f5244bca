SELECT selection_id, manifest_path, manifest_hash, n_labeled FROM selections WHERE round = $round
