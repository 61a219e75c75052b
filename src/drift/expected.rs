//! What the applied migrations say `users` and `items` look like. Only the initial
//! migration shapes them; a later migration that changes them adds its changes here.
//!
//! Two origins are accepted, because stackctl makes the tables in two ways: its own
//! initial migration (ids default to `uuid_generate_v4()`, or `gen_random_uuid()` where
//! `uuid-ossp` could not be created), or adoption of what SQLAlchemy's `create_all`
//! made (no server default but `created_at`'s, the unique email and username as unique
//! indexes `ix_users_*`, an unnamed foreign key); adoption then adds the `idx_*` indexes.

use std::collections::BTreeSet;

/// The version of the migration that creates `users` and `items`.
pub const INITIAL: &str = "20261122000001";

/// How the tables came to be, which decides the defaults and constraint names expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Created by stackctl's initial migration.
    Migrated,
    /// Made by the application (`create_all`) and adopted by `stackctl migrate`.
    Adopted,
    /// Made by the backend StackWizard's generator writes (its Alembic or `create_all`:
    /// integer item ids, double precision prices, a nullable username, a foreign key
    /// without a cascade) and adopted by `stackctl migrate`.
    Generated,
}

impl Origin {
    pub fn describe(self) -> &'static str {
        match self {
            Origin::Migrated => "the initial migration",
            Origin::Adopted => "the adopted create_all schema",
            Origin::Generated => "the adopted schema of StackWizard's generated backend",
        }
    }

    /// Every origin, in the order a tie is decided.
    pub const ALL: [Origin; 3] = [Origin::Migrated, Origin::Adopted, Origin::Generated];

    /// The columns the tables have when they came from this origin.
    pub fn columns(self) -> &'static [ColumnSpec] {
        match self {
            Origin::Migrated | Origin::Adopted => COLUMNS,
            Origin::Generated => GENERATED_COLUMNS,
        }
    }
}

/// A column default as the migrations write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Default {
    None,
    /// `uuid_generate_v4()` or `gen_random_uuid()`: either makes the same ids.
    NewUuid,
    /// An expression as `pg_get_expr` prints it.
    Expr(&'static str),
}

/// One column: (table, name, type as `format_type` prints it, NOT NULL).
#[derive(Debug, Clone, Copy)]
pub struct ColumnSpec {
    pub table: &'static str,
    pub name: &'static str,
    pub ty: &'static str,
    pub not_null: bool,
}

/// The tables in creation order (`items` refers to `users`).
pub const TABLES: &[&str] = &["users", "items"];

pub const COLUMNS: &[ColumnSpec] = &[
    col("users", "id", "uuid", true),
    col("users", "email", "character varying(255)", true),
    col("users", "username", "character varying(100)", true),
    col("users", "hashed_password", "character varying(255)", true),
    col("users", "full_name", "character varying(255)", false),
    col("users", "is_active", "boolean", false),
    col("users", "is_superuser", "boolean", false),
    col("users", "created_at", "timestamp with time zone", false),
    col("users", "updated_at", "timestamp with time zone", false),
    col("items", "id", "uuid", true),
    col("items", "title", "character varying(255)", true),
    col("items", "description", "text", false),
    col("items", "price", "numeric(10,2)", false),
    col("items", "owner_id", "uuid", false),
    col("items", "is_available", "boolean", false),
    col("items", "created_at", "timestamp with time zone", false),
    col("items", "updated_at", "timestamp with time zone", false),
];

/// The generated backend's columns that stackctl works with (its others are the
/// application's own: `is_verified`, `login_count`, tokens, `last_login_at`).
pub const GENERATED_COLUMNS: &[ColumnSpec] = &[
    col("users", "id", "uuid", true),
    col("users", "email", "character varying(255)", true),
    col("users", "username", "character varying(100)", false),
    col("users", "hashed_password", "character varying(255)", true),
    col("users", "full_name", "character varying(255)", false),
    col("users", "is_active", "boolean", true),
    col("users", "is_superuser", "boolean", true),
    col("users", "created_at", "timestamp with time zone", true),
    col("users", "updated_at", "timestamp with time zone", true),
    col("items", "id", "integer", true),
    col("items", "title", "character varying", true),
    col("items", "description", "character varying", false),
    col("items", "price", "double precision", false),
    col("items", "owner_id", "uuid", false),
    col("items", "is_available", "boolean", false),
    col("items", "created_at", "timestamp with time zone", false),
    col("items", "updated_at", "timestamp with time zone", false),
];

const fn col(
    table: &'static str,
    name: &'static str,
    ty: &'static str,
    not_null: bool,
) -> ColumnSpec {
    ColumnSpec {
        table,
        name,
        ty,
        not_null,
    }
}

/// The default a column has when the tables came from `origin`.
pub fn default_of(origin: Origin, table: &str, column: &str) -> Default {
    match (origin, column) {
        (_, "created_at") => Default::Expr("now()"),
        (Origin::Adopted, _) => Default::None,
        (Origin::Generated, "id") if table == "items" => {
            Default::Expr("nextval('items_id_seq'::regclass)")
        }
        (Origin::Generated, "updated_at") if table == "users" => Default::Expr("now()"),
        (Origin::Generated, _) => Default::None,
        (Origin::Migrated, "id") => Default::NewUuid,
        (Origin::Migrated, "updated_at") => Default::Expr("now()"),
        (Origin::Migrated, "is_active") if table == "users" => Default::Expr("true"),
        (Origin::Migrated, "is_superuser") if table == "users" => Default::Expr("false"),
        (Origin::Migrated, "price") if table == "items" => Default::Expr("0.00"),
        (Origin::Migrated, "is_available") if table == "items" => Default::Expr("true"),
        _ => Default::None,
    }
}

/// A single-column index of ours: (table, name, column).
pub const INDEXES: &[(&str, &str, &str)] = &[
    ("users", "idx_users_email", "email"),
    ("users", "idx_users_username", "username"),
    ("users", "idx_users_is_active", "is_active"),
    ("items", "idx_items_owner_id", "owner_id"),
    ("items", "idx_items_is_available", "is_available"),
    ("items", "idx_items_created_at", "created_at"),
];

/// The migration that adds the indexes stackctl's own queries need (built concurrently).
pub const QUERY_INDEXES: &str = "20261124000004";

/// An index of that migration.
#[derive(Debug, Clone, Copy)]
pub struct QueryIndex {
    pub table: &'static str,
    pub name: &'static str,
    /// What `pg_get_indexdef` prints after `ON public.<table> `.
    pub using: &'static str,
    /// Built only where its operator class is available (the trigram index needs
    /// `pg_trgm`): its absence is no drift.
    pub optional: bool,
}

const fn qix(
    table: &'static str,
    name: &'static str,
    using: &'static str,
    optional: bool,
) -> QueryIndex {
    QueryIndex {
        table,
        name,
        using,
        optional,
    }
}

/// The indexes of `QUERY_INDEXES` (a unit test keeps them in step with its up.sql).
pub const QUERY_INDEX_LIST: &[QueryIndex] = &[
    qix(
        "users",
        "stackctl_users_email_lower",
        "USING btree (lower((email)::text))",
        false,
    ),
    qix(
        "users",
        "stackctl_users_username_lower",
        "USING btree (lower((username)::text))",
        false,
    ),
    qix(
        "users",
        "stackctl_users_created_id",
        "USING btree (created_at NULLS FIRST, id)",
        false,
    ),
    qix(
        "items",
        "stackctl_items_created_id",
        "USING btree (created_at NULLS FIRST, id)",
        false,
    ),
    qix(
        "items",
        "stackctl_items_price_id",
        "USING btree (price NULLS FIRST, id)",
        false,
    ),
    qix(
        "items",
        "stackctl_items_title_id",
        "USING btree (title, id)",
        false,
    ),
    qix(
        "users",
        "stackctl_users_search",
        "USING gin (email gin_trgm_ops, username gin_trgm_ops, full_name gin_trgm_ops)",
        true,
    ),
];

impl QueryIndex {
    /// As `pg_get_indexdef` prints it.
    pub fn definition(&self) -> String {
        format!(
            "CREATE INDEX {} ON public.{} {}",
            self.name, self.table, self.using
        )
    }
}

/// Columns of `users` that are unique.
pub const UNIQUE: &[&str] = &["email", "username"];

/// The name a unique column's constraint (migrated) or unique index (adopted) has.
pub fn unique_name(origin: Origin, column: &str) -> String {
    match origin {
        Origin::Migrated => format!("users_{column}_key"),
        Origin::Adopted | Origin::Generated => format!("ix_users_{column}"),
    }
}

/// The foreign key's name: the migration names it; `create_all` leaves it to the server.
pub fn foreign_key_name(origin: Origin) -> &'static str {
    match origin {
        Origin::Migrated => "fk_items_owner",
        Origin::Adopted | Origin::Generated => "items_owner_id_fkey",
    }
}

/// The foreign key as `pg_get_constraintdef` prints it (with no schema before `users`):
/// the generated backend's has no cascade (`user delete` deletes the items itself).
pub fn foreign_key(origin: Origin) -> &'static str {
    match origin {
        Origin::Migrated | Origin::Adopted => {
            "FOREIGN KEY (owner_id) REFERENCES users(id) ON DELETE CASCADE"
        }
        Origin::Generated => "FOREIGN KEY (owner_id) REFERENCES users(id)",
    }
}

/// Whether the applied migrations define `users` and `items` at all: before the initial
/// migration is applied there is nothing to compare (a fresh database, or an application
/// schema that `migrate` has yet to adopt).
pub fn defines_tables(applied: &BTreeSet<String>) -> bool {
    applied.contains(INITIAL)
}

/// `CREATE [UNIQUE] INDEX <name> ON public.<table> USING btree (<column>)`: how
/// `pg_get_indexdef` prints a plain single-column index.
pub fn index_definition(unique: bool, name: &str, table: &str, column: &str) -> String {
    format!(
        "CREATE {}INDEX {name} ON public.{table} USING btree ({column})",
        if unique { "UNIQUE " } else { "" }
    )
}
