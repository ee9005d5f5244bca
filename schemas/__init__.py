"""Table definitions (TOML) and view definitions (SQL); read by :mod:`plabel.schema`."""
