use crate::support::Cmd;

fn run(args: &[&str]) -> crate::support::Run {
    let dir = tempfile::tempdir().unwrap();
    Cmd::bare(dir.path()).args(args).run()
}

#[test]
fn help_lists_every_noun() {
    let r = run(&["--help"]).success();
    for noun in ["status", "migrate", "user", "item", "backup", "local"] {
        assert!(
            r.stdout.contains(noun),
            "{noun} missing from --help:\n{}",
            r.stdout
        );
    }
    let r = run(&["user", "add", "--help"]).success();
    for flag in [
        "--email",
        "--username",
        "--password-stdin",
        "--password-file",
        "--random-password",
    ] {
        assert!(r.stdout.contains(flag), "{flag}");
    }
    assert!(
        !r.stdout.contains("--password "),
        "no flag may take a password itself"
    );
}

#[test]
fn version_prints_name_and_version() {
    let r = run(&["--version"]).success();
    assert_eq!(
        r.stdout.trim(),
        format!("stackctl {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn unknown_subcommand_and_flags_are_usage_errors() {
    for args in [
        &["frobnicate"][..],
        &["user", "frob"],
        &["user", "list", "--limit", "-1"],
        &["user", "list", "--limit", "99999999999"],
        &["-o", "xml", "status"],
    ] {
        let r = run(args);
        assert_eq!(r.code, 2, "{args:?}: {r:#?}");
        assert!(r.stderr.starts_with("error:"), "{args:?}: {r:#?}");
        assert!(r.stdout.is_empty());
    }
}

/// With no URL and no home there is nowhere for an embedded instance: a usage error that
/// says how to name a database, and nothing created. Root's instance needs no home (it
/// lives in /var/lib/stackctl), so as root the binary runs as `nobody` here.
#[test]
fn no_database_and_no_home_for_the_embedded_one_is_a_usage_error() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut c = Cmd::bare(dir.path()).args(&["user", "list"]);
    c.cmd.env_remove("HOME").env_remove("XDG_DATA_HOME");
    if crate::support::is_root() {
        c.cmd.uid(65534).gid(65534);
    }
    let r = c.run().fails(2);
    assert!(r.stderr.contains("hint: set DATABASE_URL"), "{r:#?}");
    assert!(!dir.path().join(".local").exists());
}
