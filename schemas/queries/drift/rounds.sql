SELECT DISTINCT round FROM predictions ORDER BY round
