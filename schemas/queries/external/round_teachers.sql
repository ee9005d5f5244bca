-- The checkpoints whose predictions round $round holds (an imported round: its one external checkpoint).
SELECT DISTINCT checkpoint_id FROM predictions WHERE round = $round ORDER BY checkpoint_id
