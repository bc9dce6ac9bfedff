//! `kron doctor`: runs the checks of `doctor` and prints one line per
//! check, with its fix under it. Exits 1 when a check fails; warnings and
//! checks that cannot tell do not fail.

use std::io::Write;

use super::{Ctx, out};
use crate::cli::DoctorArgs;
use crate::doctor::{self, Setup, Status};
use crate::error::Error;
use crate::service::{self, Manager};

pub fn run(ctx: &Ctx, args: &DoctorArgs) -> Result<(), Error> {
    let paths = super::daemon::absolute(&ctx.paths)?;
    let exe = super::service::this_exe()?;
    let manager = Manager::current();
    let setup = Setup {
        paths: &paths,
        exe: &exe,
        service_path: service::path(manager),
        service_text: service::render(manager, &service::spec(&paths, &exe)),
    };
    let checks = doctor::run(&setup);
    let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
    let mut stdout = std::io::stdout().lock();
    if args.json {
        let text = serde_json::to_string_pretty(&checks).expect("the checks serialise");
        out!(stdout, "{text}")?;
        return if failed > 0 {
            Err(Error::Exit(1))
        } else {
            Ok(())
        };
    }
    for c in &checks {
        let mark = match c.status {
            Status::Ok => "ok  ",
            Status::Unknown => "?   ",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        };
        out!(stdout, "{mark}  {}: {}", c.what, c.detail)?;
        if let Some(fix) = &c.fix {
            out!(stdout, "      fix: {fix}")?;
        }
    }
    if failed > 0 {
        return Err(Error::Failed(format!("{failed} check(s) failed")));
    }
    Ok(())
}
