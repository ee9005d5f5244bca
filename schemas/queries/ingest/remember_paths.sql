INSERT INTO known_paths SELECT path FROM fresh
