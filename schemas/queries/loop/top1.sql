-- A checkpoint's clean top-1 on a split: the evaluation over the most images (a `plabel eval
-- --limit` look at the same checkpoint does not decide the loop).
SELECT value FROM evals
WHERE checkpoint_id = $checkpoint_id AND split = $split AND kind = 'clean' AND metric = 'top1'
ORDER BY n DESC, value DESC
LIMIT 1
