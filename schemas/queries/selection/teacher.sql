-- The checkpoint whose predictions are selected (round_teachers: the rule in one place).
SELECT coalesce((SELECT checkpoint_id FROM round_teachers WHERE round = $round), '')
