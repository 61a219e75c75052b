//! `stackctl local status|start|stop`: the embedded PostgreSQL.

use super::Ctx;
use crate::cli::LocalCmd;
use crate::embedded::STATE_COLUMNS;
use crate::error::Result;
use crate::output::render_one;

pub fn run(cmd: LocalCmd, ctx: &Ctx) -> Result<()> {
    let instance = ctx.instance()?;
    match cmd {
        LocalCmd::Status => {}
        LocalCmd::Start => {
            let (_conn, _) = ctx.connect_target(instance.target()?)?;
            ctx.info(format!(
                "the embedded PostgreSQL is running in {}",
                instance.dir.display()
            ));
        }
        LocalCmd::Stop => {
            if instance.stop()? {
                ctx.info(format!(
                    "stopped the embedded PostgreSQL in {}",
                    instance.dir.display()
                ));
            } else {
                ctx.info(format!(
                    "the embedded PostgreSQL in {} was not running",
                    instance.dir.display()
                ));
            }
        }
    }
    let mut out = ctx.stdout();
    render_one(ctx.format(), STATE_COLUMNS, &instance.state(), &mut out)?;
    super::finish(out)
}
