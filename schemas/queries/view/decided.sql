-- plabel view's snapshot of the decisions (decisions.sql), one round at a time as pages ask for
-- them (decide_round.sql), kept in memory until the tables they come from change. Empty here.
CREATE OR REPLACE TEMP TABLE decided AS
SELECT CAST(NULL AS INTEGER) AS round, * FROM decisions(NULL) LIMIT 0
