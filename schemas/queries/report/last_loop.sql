-- The latest finished `plabel run`: what the report says the loop chose and why it stopped.
SELECT finished_at, rounds_asked, rounds_run, student_models, judged_on, best_round, best_checkpoint_id,
       best_top1, stopped, notes
FROM loops ORDER BY finished_at DESC LIMIT 1
