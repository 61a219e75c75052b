//! `stackctl grant ROLE [--read-only] [--apply]`: the GRANTs a least-privilege role needs.

use diesel::connection::SimpleConnection;
use diesel::Connection;

use super::Ctx;
use crate::cli::{GrantArgs, OutputFormat};
use crate::db;
use crate::error::{Error, Result};
use crate::grant::{plan, Present};
use crate::output::ListWriter;

const COLUMNS: &[&str] = &["object", "privileges", "statement"];

pub fn run(args: GrantArgs, ctx: &Ctx) -> Result<()> {
    if args.role.is_empty() || args.role.chars().any(char::is_control) {
        return Err(Error::invalid(
            "role",
            "it must be a non-empty name without control characters",
        ));
    }
    let (mut conn, _) = ctx.connect_raw()?;
    // `public` unquoted means PUBLIC, every role; `current_user` and the like are not
    // names either. Only a role the server lists is granted to.
    if !db::server::role_exists(&mut conn, &args.role)? {
        return Err(Error::invalid(
            "role",
            format!(
                "'{}' is not an existing role (PUBLIC and CURRENT_USER are refused: name a real role)",
                args.role
            ),
        )
        .with_hint("create the role first (CREATE ROLE name LOGIN), then run stackctl grant"));
    }
    let (layout, _) = db::SchemaState::read_layout(&mut conn, ctx.global.layout)?;
    let present = Present {
        migrations: db::own::find(&mut conn, "__diesel_schema_migrations")?.is_some(),
        audit: db::own::find(&mut conn, "stackctl_audit")?.is_some(),
        checksums: db::own::find(&mut conn, "stackctl_migration_checksums")?.is_some(),
        column_defaults: db::own::find(&mut conn, "stackctl_column_defaults")?.is_some(),
        own_schema: db::own::schema_in_use(&mut conn)?,
        simple_users_seq: match layout {
            crate::layout::Layout::Simple => db::simple::id_sequence(&mut conn)?,
            crate::layout::Layout::StackWizard => None,
        },
        items_seq: match layout {
            crate::layout::Layout::StackWizard => db::shape::item_id_sequence(&mut conn)?,
            crate::layout::Layout::Simple => None,
        },
    };
    if !db::table_exists(&mut conn, "public.users")? {
        return Err(Error::schema("the database has no users table yet")
            .with_hint("run stackctl migrate as the schema owner first"));
    }
    let database = db::current_database(&mut conn)?;
    let grants = plan(&args.role, &database, args.read_only, present);
    if args.apply && !ctx.global.dry_run {
        conn.transaction::<_, Error, _>(|conn| {
            for g in &grants {
                conn.batch_execute(&g.statement)?;
            }
            Ok(())
        })
        .map_err(|e| db::server::explain_refusal(&mut conn, e))?;
        ctx.info(format!(
            "granted {} privilege set(s) to {}",
            grants.len(),
            args.role
        ));
    }
    let mut out = ctx.stdout();
    if ctx.format() == OutputFormat::Table {
        // A script, so that `stackctl grant app | psql` works as it reads.
        use std::io::Write;
        // A name holding control characters is shown escaped, never sent raw to a terminal.
        for g in &grants {
            writeln!(out, "{}", crate::output::terminal_safe(&g.statement))?;
        }
        return super::finish(out);
    }
    let mut list = ListWriter::new(ctx.format(), COLUMNS, out);
    for g in &grants {
        list.row(g)?;
    }
    list.finish()?;
    Ok(())
}
