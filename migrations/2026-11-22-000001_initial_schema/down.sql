-- The extension stays: other schemas in the database may use it.
DROP TABLE IF EXISTS items;
DROP TABLE IF EXISTS users;
