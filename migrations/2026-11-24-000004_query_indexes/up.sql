-- The indexes stackctl's own queries need, and nothing else: it adds, never changes or
-- drops an object of the application's. Each statement runs on its own, outside a
-- transaction (metadata.toml), so a live table keeps taking writes while its index is
-- built. A build that fails or is interrupted leaves an invalid index behind; the next
-- `stackctl migrate` finds it (pg_index.indisvalid = false), drops it and builds it again,
-- and this migration is recorded as applied only once every index is valid.

-- user show / update / add: an email or username matched in any letter case.
CREATE INDEX CONCURRENTLY IF NOT EXISTS stackctl_users_email_lower ON users (lower(email));
CREATE INDEX CONCURRENTLY IF NOT EXISTS stackctl_users_username_lower ON users (lower(username));

-- user list / item list, --sort created (the default) either way: ORDER BY created_at
-- ASC NULLS FIRST, id ASC, read backwards for --desc (DESC NULLS LAST, id DESC).
CREATE INDEX CONCURRENTLY IF NOT EXISTS stackctl_users_created_id ON users (created_at NULLS FIRST, id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS stackctl_items_created_id ON items (created_at NULLS FIRST, id);

-- item list --sort price and --sort title, either way (--sort email and username are
-- served by the unique indexes the schema already has).
CREATE INDEX CONCURRENTLY IF NOT EXISTS stackctl_items_price_id ON items (price NULLS FIRST, id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS stackctl_items_title_id ON items (title, id);

-- user list --search: a substring in any letter case (ILIKE '%...%') in email, username
-- or full name. Trigrams come from pg_trgm, which a server may not have or a role may not
-- be allowed to create: then the extension is skipped, and so is the index, and --search
-- scans the table as before.
-- optional
CREATE EXTENSION IF NOT EXISTS pg_trgm;
-- needs: gin_trgm_ops
CREATE INDEX CONCURRENTLY IF NOT EXISTS stackctl_users_search ON users USING gin (email gin_trgm_ops, username gin_trgm_ops, full_name gin_trgm_ops);
