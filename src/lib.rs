//! The `interview-ledger` binary's logic: startup of each part, the CLI commands.

pub mod app;
pub mod bench;
pub mod cli;
pub mod history;
pub mod seed;

use anyhow::Context;

use crate::cli::{Cli, Command, HistoryCommand, LogFormatArg, ProjectionsCommand};

/// Installs logging (and OTLP export when configured). Call outside the async runtime:
/// the exporter runs its own thread; keep the guard until the runtime has ended.
pub fn init_telemetry(cli: &Cli) -> anyhow::Result<infra::telemetry::TelemetryGuard> {
    Ok(infra::telemetry::init(match cli.global.log_format {
        LogFormatArg::Pretty => infra::telemetry::LogFormat::Pretty,
        LogFormatArg::Json => infra::telemetry::LogFormat::Json,
    })?)
}

/// Runs one command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let global = cli.global;
    match cli.command {
        Command::Serve(addrs) => app::serve(&global, &addrs, app::Parts::ALL).await,
        Command::CommandApi(addrs) => app::serve(&global, &addrs, app::Parts::COMMAND_API).await,
        Command::QueryApi(addrs) => app::serve(&global, &addrs, app::Parts::QUERY_API).await,
        Command::Projector(addrs) => app::serve(&global, &addrs, app::Parts::PROJECTOR).await,
        Command::Projections(ProjectionsCommand::Status { json }) => {
            app::projections_status(&global, json).await
        }
        Command::Projections(ProjectionsCommand::Rebuild { name, all }) => {
            app::projections_rebuild(&global, if all { None } else { name }).await
        }
        Command::Projections(ProjectionsCommand::Parked { json }) => {
            app::projections_parked(&global, json).await
        }
        Command::Projections(ProjectionsCommand::Retry { name, stream }) => {
            app::projections_retry(&global, &name, stream.as_deref()).await
        }
        Command::Projections(ProjectionsCommand::Skip {
            name,
            stream,
            reason,
            actor,
        }) => app::projections_skip(&global, &name, &stream, &reason, &actor).await,
        Command::History(HistoryCommand::Interview { id, tenant, json }) => {
            let env = app::Env::open(&global, false).await?;
            history::print_interview(&env.store, &tenant, id, json, &mut std::io::stdout().lock())
                .await
                .context("failed to read the interview's history")
        }
        Command::Seed(args) => seed::run(&global, &args).await,
        Command::Bench(args) => bench::run(&global, &args).await,
        Command::Token(args) => app::print_token(&global, &args).await,
    }
}
