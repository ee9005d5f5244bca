-- The checkpoint whose predictions are selected (a round with no rows at all: the round's newest).
SELECT coalesce((SELECT checkpoint_id FROM predictions WHERE round = $round LIMIT 1),
                (SELECT arg_max(checkpoint_id, created_at) FROM checkpoints WHERE round = $round), '')
