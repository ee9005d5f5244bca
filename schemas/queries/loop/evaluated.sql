SELECT count(*) FROM evals WHERE checkpoint_id = ? AND split = ? AND kind = 'clean' AND metric = 'top1'
