//! The real `sonar-slack serve` binary as a child process: started on a free port with settings in
//! its environment, its output in a log file, stopped with SIGTERM or killed with SIGKILL.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use sea_orm::DatabaseConnection;
use secrecy::ExposeSecret;
use sonar_slack::crypto::Sealer;
use sonar_slack::domain::types::ServerUrl;
use sonar_slack::store::catalog;

use crate::helpers::{SECRET, SERVER, TEAM, TOKEN, TestDb, WAIT, team, test_key};

pub const BIN: &str = env!("CARGO_BIN_EXE_sonar-slack");

/// A running `serve`; killed when dropped.
pub struct Service {
    child: Child,
    pub base: String,
    pub log: PathBuf,
}

/// Settings shared by every start of one test's service.
#[derive(Clone)]
pub struct ServiceEnv {
    pub vars: Vec<(String, String)>,
    pub log_dir: PathBuf,
}

impl ServiceEnv {
    /// The database, the test key and the fake Slack; more with [`ServiceEnv::set`].
    pub fn new(db: &TestDb, slack_api_url: &str, log_dir: &Path) -> Self {
        let vars = vec![
            ("SONAR_SLACK_DATABASE_URL".into(), db.url.clone()),
            (
                "SONAR_SLACK_ENCRYPTION_KEY".into(),
                test_key().expose_secret().to_owned(),
            ),
            ("SONAR_SLACK_SLACK_API_URL".into(), slack_api_url.to_owned()),
            ("SONAR_SLACK_INSTANCE_ID".into(), "child-under-test".into()),
            ("RUST_LOG".into(), "info".into()),
        ];
        Self {
            vars,
            log_dir: log_dir.to_owned(),
        }
    }

    pub fn unset(mut self, name: &str) -> Self {
        self.vars.retain(|(n, _)| n != name);
        self
    }

    pub fn set(mut self, name: &str, value: impl ToString) -> Self {
        self.vars.retain(|(n, _)| n != name);
        self.vars.push((name.to_owned(), value.to_string()));
        self
    }
}

impl Service {
    /// Starts `serve` on a free port and waits until `/healthz` answers.
    pub async fn start(env: &ServiceEnv, run: usize) -> Service {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let log = env.log_dir.join(format!("serve-{run}.log"));
        let file = || std::fs::File::create(&log).expect("log file");
        let out = file();
        let err = out.try_clone().expect("log file");
        let mut cmd = Command::new(BIN);
        cmd.arg("serve")
            .env("SONAR_SLACK_LISTEN", format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        for (name, value) in &env.vars {
            cmd.env(name, value);
        }
        let child = cmd.spawn().expect("serve starts");
        let mut service = Service {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        service.wait_healthy().await;
        service
    }

    async fn wait_healthy(&mut self) {
        let client = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "serve exited with {status} while starting:\n{}",
                    self.output()
                );
            }
            let up = client
                .get(format!("{}/healthz", self.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if up {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "serve did not answer /healthz:\n{}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the process printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no clean-up of any kind, as a crash or an OOM kill.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM, as a deploy does; returns at once.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits for the process to exit by itself.
    pub async fn exited(&mut self, within: Duration) -> ExitStatus {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "serve did not exit within {within:?}:\n{}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The test's own database handle and the connection's id.
pub struct Seeded {
    pub db: DatabaseConnection,
    pub connection: i64,
}

impl std::ops::Deref for Seeded {
    type Target = DatabaseConnection;
    fn deref(&self) -> &DatabaseConnection {
        &self.db
    }
}

/// Migrates the database and adds the test connection and workspace, as the CLI would.
pub async fn seed_database(db: &TestDb) -> Seeded {
    let mut settings = sonar_slack::config::Settings::defaults();
    settings.database_url = db.url.clone();
    let conn = sonar_slack::startup::open_database(&settings)
        .await
        .expect("database");
    let sealer = Sealer::from_base64(&test_key()).expect("key");
    let url = ServerUrl::parse(SERVER).expect("url");
    let secret = sealer.seal(SECRET, &catalog::webhook_secret_context(url.as_str()));
    let connection = catalog::add_connection(&conn, &url, None, Some(secret))
        .await
        .expect("connection")
        .id;
    catalog::upsert_workspace(
        &conn,
        &team(),
        None,
        sealer.seal(TOKEN, &catalog::bot_token_context(TEAM)),
    )
    .await
    .expect("workspace");
    Seeded {
        db: conn,
        connection,
    }
}
