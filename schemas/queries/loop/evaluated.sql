SELECT count(*) FROM evals WHERE checkpoint_id = $checkpoint_id AND split = $split AND kind = 'clean' AND metric = 'top1'
