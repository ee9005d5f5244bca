-- External checkpoints of round $round that made none of its predictions (theirs were replaced).
SELECT checkpoint_id FROM checkpoints
WHERE round = $round AND kind = 'external'
  AND checkpoint_id NOT IN (SELECT checkpoint_id FROM predictions WHERE round = $round)
ORDER BY checkpoint_id
