SELECT * FROM round_summary
