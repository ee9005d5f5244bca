-- One row per round: its teacher, the checkpoint that made the round's predictions, else (no
-- predictions yet) the round's newest checkpoint. The one statement of this rule: select reads
-- it for the round it selects from, round_summary for every round.
WITH rounds AS (
    SELECT round FROM checkpoints UNION SELECT round FROM predictions UNION SELECT round FROM selections
),
newest AS (
    SELECT round, arg_max(checkpoint_id, created_at) AS checkpoint_id FROM checkpoints GROUP BY round
),
predictor AS (SELECT round, any_value(checkpoint_id) AS checkpoint_id FROM predictions GROUP BY round)
SELECT r.round, coalesce(p.checkpoint_id, n.checkpoint_id) AS checkpoint_id
FROM rounds r LEFT JOIN predictor p USING (round) LEFT JOIN newest n USING (round)
