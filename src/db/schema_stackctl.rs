// stackctl's own tables. Written as `diesel print-schema` writes them, but unqualified:
// they live in the schema `stackctl` (or in `public`, where a role that could not create
// that schema left them), and every statement that reads or writes them runs after
// `db::own::search_path` (`SET LOCAL search_path = stackctl, public`).

diesel::table! {
    stackctl_audit (id) {
        id -> Int8,
        at -> Timestamptz,
        os_user -> Text,
        db_user -> Text,
        hostname -> Text,
        command -> Text,
        target_kind -> Text,
        target_id -> Text,
        summary -> Jsonb,
    }
}

diesel::table! {
    stackctl_migration_checksums (version) {
        version -> Text,
        sha256 -> Text,
        recorded_at -> Timestamptz,
    }
}

diesel::allow_tables_to_appear_in_same_query!(stackctl_audit, stackctl_migration_checksums,);
