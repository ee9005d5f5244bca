SELECT corruption, severity, metric, value FROM evals
WHERE checkpoint_id = $checkpoint_id AND kind = $kind AND settings = $settings AND metric IN ('error', 'clean_error', 'flip_rate')
