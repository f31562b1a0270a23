//! Request bounds over a raw socket: oversized heads get 431, a stalled head or body gets 408 once
//! its time is up, and the service keeps serving.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::helpers::*;

/// Sends `request` (as far as the server lets it), then reads the answer until the server closes
/// the connection or 10 s pass. Returns the answer and how long it took.
async fn exchange(base: &str, request: Vec<u8>) -> (String, Duration) {
    let addr = base.trim_start_matches("http://").to_owned();
    tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let started = Instant::now();
        // A server that refuses the head may close before all of it is written.
        let _ = stream.write_all(&request);
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    // One answer is all we wait for on a connection that stays open.
                    if is_complete(&answer) {
                        break;
                    }
                }
            }
        }
        (
            String::from_utf8_lossy(&answer).into_owned(),
            started.elapsed(),
        )
    })
    .await
    .expect("socket thread")
}

/// Whether `answer` holds a whole response (head, and a body as long as its Content-Length).
fn is_complete(answer: &[u8]) -> bool {
    let text = String::from_utf8_lossy(answer);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let length = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
        })
        .unwrap_or(0);
    body.len() >= length
}

fn status_of(answer: &str) -> &str {
    answer.split(' ').nth(1).unwrap_or("no answer")
}

async fn healthz_ok(app: &TestApp) {
    let res = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .expect("healthz");
    assert_eq!(res.status(), 200, "the service keeps serving");
}

#[tokio::test]
async fn oversized_heads_get_431_and_the_service_keeps_serving() {
    for db in databases().await {
        let fake = fake_slack();
        let app = TestApp::spawn(&db, &fake).await;
        // One 64 KiB header: our own bound (32 KiB) answers, saying what was wrong.
        let mut big = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', 64 * 1024));
        big.extend_from_slice(b"\r\n\r\n");
        let (answer, _) = exchange(&app.base, big).await;
        assert_eq!(
            status_of(&answer),
            "431",
            "{}",
            &answer[..answer.len().min(300)]
        );
        assert!(answer.contains("headers_too_large"), "{answer}");
        healthz_ok(&app).await;
        // A 200 KiB head: actix-http gives up reading at 128 KiB, with an empty 431.
        let mut huge = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Huge: ".to_vec();
        huge.extend(std::iter::repeat_n(b'a', 200 * 1024));
        huge.extend_from_slice(b"\r\n\r\n");
        let (answer, _) = exchange(&app.base, huge).await;
        assert_eq!(
            status_of(&answer),
            "431",
            "{}",
            &answer[..answer.len().min(300)]
        );
        healthz_ok(&app).await;
        // More than 96 headers, each small: actix-http refuses those with 431 too.
        let mut many = b"GET /healthz HTTP/1.1\r\nHost: x\r\n".to_vec();
        for i in 0..100 {
            many.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        let (answer, _) = exchange(&app.base, many).await;
        assert_eq!(status_of(&answer), "431", "{answer}");
        healthz_ok(&app).await;
        app.crash().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_stalled_head_or_body_gets_408_after_its_timeout() {
    for db in databases().await {
        let fake = fake_slack();
        let mut settings = settings_for(&db, &fake);
        // actix-http times heads with a clock it refreshes every 500 ms, so its timeout can fire
        // up to that much early: 1.5 s leaves a clear lower bound.
        settings.http_head_timeout_ms = 1500;
        settings.http_body_timeout_ms = 300;
        let app = TestApp::spawn_with(settings).await;
        // Half a head, then nothing.
        let (answer, took) = exchange(
            &app.base,
            b"POST /webhooks/sonarqube HTTP/1.1\r\nHost: x\r\nContent-Ty".to_vec(),
        )
        .await;
        assert_eq!(status_of(&answer), "408", "{answer}");
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_secs(5),
            "{took:?}"
        );
        // A whole head announcing 100 bytes, 10 of which arrive.
        let (answer, took) = exchange(
            &app.base,
            b"POST /webhooks/sonarqube HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\":12345".to_vec(),
        )
        .await;
        assert_eq!(status_of(&answer), "408", "{answer}");
        assert!(answer.contains("body_timeout"), "{answer}");
        assert!(
            took >= Duration::from_millis(250) && took < Duration::from_secs(5),
            "{took:?}"
        );
        assert_eq!(app.counts().await, (0, 0, 0), "nothing stored");
        healthz_ok(&app).await;
        app.crash().await;
        db.cleanup().await;
    }
}
