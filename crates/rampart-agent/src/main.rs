//! `rampart-agent`: parses the command line and runs the agent (see the library).
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let config = rampart_agent::Config::parse();
    rampart_agent::init_logging();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("rampart-agent: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(rampart_agent::run(config)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rampart-agent: {e:#}");
            ExitCode::FAILURE
        }
    }
}
