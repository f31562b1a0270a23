//! The HTTP server under each fake: an actix-web app on 127.0.0.1:0 in its own thread and actix
//! `System`, stopped on demand or when dropped.

use std::net::SocketAddr;
use std::sync::{Mutex, PoisonError, mpsc};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, web};

struct Running {
    handle: ServerHandle,
    done: mpsc::Receiver<()>,
}

pub struct FakeServer {
    addr: SocketAddr,
    running: Mutex<Option<Running>>,
}

impl FakeServer {
    /// Serves the routes `configure` sets up; returns once listening.
    pub fn start<C>(name: &str, configure: C) -> std::io::Result<Self>
    where
        C: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
    {
        let (ready_tx, ready_rx) = mpsc::channel();
        let (done_tx, done) = mpsc::channel();
        let serve = move || {
            let app = move || App::new().configure(configure.clone());
            let server = HttpServer::new(app).workers(1).disable_signals();
            actix_web::rt::System::new().block_on(async move {
                let server = match server.bind(("127.0.0.1", 0)) {
                    Ok(server) => server,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let Some(addr) = server.addrs().first().copied() else {
                    let _ = ready_tx.send(Err(std::io::Error::other("bound no address")));
                    return;
                };
                let server = server.run();
                let _ = ready_tx.send(Ok((addr, server.handle())));
                let _ = server.await;
            });
            let _ = done_tx.send(());
        };
        std::thread::Builder::new().name(name.into()).spawn(serve)?;
        let died = |_| std::io::Error::other(format!("{name} died while starting"));
        let (addr, handle) = ready_rx.recv().map_err(died)??;
        Ok(Self {
            addr,
            running: Mutex::new(Some(Running { handle, done })),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server (idempotent); later requests fail to connect.
    pub fn stop(&self) {
        let running = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(Running { handle, done }) = running {
            // The stop command is sent eagerly; the future only reports completion.
            drop(handle.stop(false));
            let _ = done.recv_timeout(Duration::from_secs(5));
        }
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop();
    }
}
