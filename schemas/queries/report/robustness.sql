SELECT checkpoint_id, kind, metric, epsilon, arg_max(value, evaluated_at) AS value
FROM evals WHERE kind <> 'clean' AND metric IN ('mce', 'relative_mce', 'mfr', 'accuracy')
GROUP BY ALL
