SELECT corruption, severity, metric, value FROM evals
WHERE checkpoint_id = ? AND kind = ? AND settings = ? AND metric IN ('error', 'clean_error', 'flip_rate')
