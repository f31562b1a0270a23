//! The `sonar-slack` binary: parse the command line, set up logging, dispatch.

use std::process::ExitCode;

use clap::Parser;
use sonar_slack::cli::{Cli, Command, admin, deliveries, keys};
use sonar_slack::config::Settings;
use sonar_slack::startup::{Application, load_sealer, open_database};
use sonar_slack::{demo, telemetry};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let level = match cli.command {
        Command::Serve => "info",
        // The demo prints its own story; only real trouble should interrupt it.
        Command::Demo => "error",
        _ => "warn",
    };
    telemetry::init(&settings.log_format, level);
    let result = actix_web::rt::System::new().block_on(run(cli.command, settings));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => Application::build(settings).await?.serve().await,
        Command::Migrate => {
            open_database(&settings).await?;
            println!("database is up to date");
            Ok(())
        }
        Command::Demo => demo::run().await,
        Command::Connections(cmd) => {
            let db = open_database(&settings).await?;
            admin::connections(&db, &load_sealer(&settings, &db).await?, cmd).await
        }
        Command::Workspaces(cmd) => {
            let db = open_database(&settings).await?;
            admin::workspaces(&db, &load_sealer(&settings, &db).await?, cmd).await
        }
        Command::Subscriptions(cmd) => {
            let db = open_database(&settings).await?;
            admin::subscriptions(&db, cmd).await
        }
        Command::Deliveries(cmd) => {
            let db = open_database(&settings).await?;
            deliveries::run(&db, &settings, cmd).await
        }
        Command::Keys(cmd) => {
            let db = open_database(&settings).await?;
            keys::run(&db, &settings, cmd).await
        }
        Command::Manifest { public_url } => {
            let manifest = admin::manifest(&settings, public_url.as_deref())?;
            println!("{manifest}");
            Ok(())
        }
    }
}
