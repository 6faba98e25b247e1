//! `rampart-agent`: registers a machine with a rampart server and runs its audits. This first
//! version only prints its usage; the fleet issue gives it its work.
#![forbid(unsafe_code)]

const USAGE: &str = "\
rampart-agent — audits this machine for a rampart server

Usage: rampart-agent --server URL --registration-key KEY [--account NAME] [--hostname H]
                     [--tags t1,t2] [--access-group G] [--state-dir DIR] [--usg PATH]
                     [--oscap-datastream FILE] [--once]

This version of the agent does not run audits yet; it prints this text and exits.";

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--version" || a == "-V") {
        println!("rampart-agent {}", env!("CARGO_PKG_VERSION"));
        return std::process::ExitCode::SUCCESS;
    }
    println!("{USAGE}");
    if args.is_empty() || args.iter().any(|a| a == "--help" || a == "-h") {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(2)
    }
}
