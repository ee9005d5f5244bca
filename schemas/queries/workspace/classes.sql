SELECT class_id, name FROM classes ORDER BY class_id
