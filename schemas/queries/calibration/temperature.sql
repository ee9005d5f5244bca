SELECT temperature FROM calibrations WHERE checkpoint_id = $checkpoint_id ORDER BY calibrated_at DESC LIMIT 1
