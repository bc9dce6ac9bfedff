use std::process::ExitCode;

fn main() -> ExitCode {
    kron::run(std::env::args_os())
}
