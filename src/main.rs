//! `interview-ledger`: the one binary. All logic lives in the library.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of the system allocator: allocation and freeing were about a tenth
/// of the query API's CPU under load with glibc's malloc (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = interview_ledger::cli::Cli::parse();
    let telemetry = match interview_ledger::init_telemetry(&cli) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(interview_ledger::run(cli));
    drop(runtime);
    drop(telemetry);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, every cause.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
