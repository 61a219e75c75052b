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
        username -> Varchar,
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

diesel::joinable!(items -> users (owner_id));

diesel::allow_tables_to_appear_in_same_query!(items, users,);
