-- Every checkpoint's latest calibration on each split: the report's reliability section.
SELECT checkpoint_id, split, images, temperature, ece_before, ece_after, nll_before, nll_after,
       bin_confidence_before, bin_accuracy_before, bin_confidence, bin_accuracy
FROM calibrations
QUALIFY row_number() OVER (PARTITION BY checkpoint_id, split ORDER BY calibrated_at DESC) = 1
ORDER BY checkpoint_id, split
