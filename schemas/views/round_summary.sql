-- One row per round: its teacher (the checkpoint that made the round's predictions, else the
-- round's newest checkpoint), the predictions it made,
-- the selection and manifest made from them, the student trained on that manifest (a
-- checkpoint of the next round), the share of the pool's predicted images it selected, its
-- expected precision (from val) and, where the pool carries withheld labels, its true precision
-- (distinct pseudo images), the teacher's and student's latest clean top-1 on val, test and their
-- held-out train images, and their latest robustness numbers (mCE and mFR, relative to the reference checkpoint
-- of `plabel eval --robustness`; 100 = as robust as the reference).
-- A round's student: the newest checkpoint trained on its manifest, of the next round where one is
-- (two rounds taught by the same model can select the same manifest).
WITH student AS (
    SELECT s.round, arg_max(c.checkpoint_id, (c.round = s.round + 1, c.created_at)) AS checkpoint_id
    FROM selections s JOIN checkpoints c ON c.manifest_hash = s.manifest_hash
    GROUP BY s.round
),
preds AS (SELECT round, count(*) AS predictions, count(*) FILTER (WHERE split = 'unlabeled') AS unlabeled_predictions
          FROM predictions GROUP BY round),
top1 AS (
    SELECT checkpoint_id, split, arg_max(value, evaluated_at) AS top1
    FROM evals WHERE kind = 'clean' AND metric = 'top1' GROUP BY checkpoint_id, split
),
truth AS (SELECT * FROM withheld_truth),
pseudo_truth AS (
    SELECT m.round, count(t.true_class) AS with_truth,
           count(*) FILTER (WHERE t.true_class = m.target) / nullif(count(t.true_class), 0) AS true_precision
    FROM (SELECT DISTINCT round, image_id, target FROM manifests WHERE origin = 'pseudo') m
    LEFT JOIN truth t USING (image_id)
    GROUP BY m.round
),
robust AS (
    SELECT checkpoint_id,
           arg_max(value, evaluated_at) FILTER (WHERE metric = 'mce') AS mce,
           arg_max(value, evaluated_at) FILTER (WHERE metric = 'mfr') AS mfr
    FROM evals WHERE metric IN ('mce', 'mfr') GROUP BY checkpoint_id
)
SELECT t.round, t.checkpoint_id AS teacher_id, coalesce(p.predictions, 0) AS predictions,
       coalesce(p.unlabeled_predictions, 0) AS unlabeled_predictions,
       s.selection_id, s.threshold, s.per_class, s.balance, s.labels, s.manifest_hash,
       s.n_labeled, s.n_pseudo, s.n_pseudo_copies,
       s.n_pseudo / nullif(p.unlabeled_predictions, 0) AS pool_used,
       s.expected_precision, pt.true_precision, st.checkpoint_id AS student_id,
       tv.top1 AS teacher_val_top1, tt.top1 AS teacher_test_top1, th.top1 AS teacher_holdout_top1,
       sv.top1 AS student_val_top1, stt.top1 AS student_test_top1, sh.top1 AS student_holdout_top1,
       rt.mce AS teacher_mce, rt.mfr AS teacher_mfr, rs.mce AS student_mce, rs.mfr AS student_mfr
FROM round_teachers t
LEFT JOIN preds p USING (round)
LEFT JOIN selections s USING (round)
LEFT JOIN student st USING (round)
LEFT JOIN top1 tv ON tv.checkpoint_id = t.checkpoint_id AND tv.split = 'val'
LEFT JOIN top1 tt ON tt.checkpoint_id = t.checkpoint_id AND tt.split = 'test'
LEFT JOIN top1 sv ON sv.checkpoint_id = st.checkpoint_id AND sv.split = 'val'
LEFT JOIN top1 stt ON stt.checkpoint_id = st.checkpoint_id AND stt.split = 'test'
LEFT JOIN top1 th ON th.checkpoint_id = t.checkpoint_id AND th.split = 'holdout'
LEFT JOIN top1 sh ON sh.checkpoint_id = st.checkpoint_id AND sh.split = 'holdout'
LEFT JOIN pseudo_truth pt ON pt.round = t.round AND pt.with_truth > 0
LEFT JOIN robust rt ON rt.checkpoint_id = t.checkpoint_id
LEFT JOIN robust rs ON rs.checkpoint_id = st.checkpoint_id
ORDER BY t.round
