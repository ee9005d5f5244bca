SELECT 'view' AS type, view_name AS name FROM duckdb_views() WHERE NOT internal
UNION ALL SELECT 'table', table_name FROM duckdb_tables() WHERE NOT internal
UNION ALL SELECT 'sequence', sequence_name FROM duckdb_sequences()
UNION ALL SELECT 'function', function_name FROM duckdb_functions() WHERE NOT internal
