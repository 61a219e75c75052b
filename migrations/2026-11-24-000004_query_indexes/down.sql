-- Drops the indexes the migration added, one statement at a time and concurrently, so
-- writes go on meanwhile. pg_trgm stays, like uuid-ossp: other schemas, or the
-- application, may use it, and it may have been there before.
DROP INDEX CONCURRENTLY IF EXISTS stackctl_users_search;
DROP INDEX CONCURRENTLY IF EXISTS stackctl_items_title_id;
DROP INDEX CONCURRENTLY IF EXISTS stackctl_items_price_id;
DROP INDEX CONCURRENTLY IF EXISTS stackctl_items_created_id;
DROP INDEX CONCURRENTLY IF EXISTS stackctl_users_created_id;
DROP INDEX CONCURRENTLY IF EXISTS stackctl_users_username_lower;
DROP INDEX CONCURRENTLY IF EXISTS stackctl_users_email_lower;
