// @generated automatically by Diesel CLI.

diesel::table! {
    items (id) {
        id -> Uuid,
        #[max_length = 255]
        title -> Varchar,
        description -> Nullable<Text>,
        price -> Nullable<Numeric>,
        owner_id -> Nullable<Uuid>,
        is_available -> Nullable<Bool>,
        created_at -> Nullable<Timestamptz>,
        updated_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        #[max_length = 255]
        email -> Varchar,
        #[max_length = 100]
        username -> Nullable<Varchar>,
        #[max_length = 255]
        hashed_password -> Varchar,
        #[max_length = 255]
        full_name -> Nullable<Varchar>,
        is_active -> Nullable<Bool>,
        is_superuser -> Nullable<Bool>,
        created_at -> Nullable<Timestamptz>,
        updated_at -> Nullable<Timestamptz>,
    }
}

// `items` as the generated StackWizard backend's Alembic makes it (`db::shape`): integer
// ids, double precision prices, varchar without a length. Written by hand: the same table
// under another Rust name.
diesel::table! {
    #[sql_name = "items"]
    serial_items (id) {
        id -> Int4,
        title -> Varchar,
        description -> Nullable<Varchar>,
        price -> Nullable<Float8>,
        owner_id -> Nullable<Uuid>,
        is_available -> Nullable<Bool>,
        created_at -> Nullable<Timestamptz>,
        updated_at -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(items -> users (owner_id));
diesel::joinable!(serial_items -> users (owner_id));

diesel::allow_tables_to_appear_in_same_query!(items, users,);
diesel::allow_tables_to_appear_in_same_query!(serial_items, users,);
