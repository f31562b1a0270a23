//! A minimal HTTP/1.1 keep-alive client for the closed-loop runs, so that on a small machine the
//! load generator takes as little CPU from the service as it can (a full client such as reqwest
//! costs several times more per request). One request at a time per connection; responses are
//! read by their `Content-Length`.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct Connection {
    addr: String,
    stream: Option<TcpStream>,
    buffer: Vec<u8>,
}

impl Connection {
    pub fn new(addr: &str) -> Self {
        Self {
            addr: addr.to_owned(),
            stream: None,
            buffer: Vec::with_capacity(4096),
        }
    }

    /// Sends a whole request (head and body) and returns the response's status code.
    pub async fn send(&mut self, request: &[u8]) -> io::Result<u16> {
        let result = self.exchange(request).await;
        if result.is_err() {
            // Start over on a new connection next time.
            self.stream = None;
        }
        result
    }

    async fn exchange(&mut self, request: &[u8]) -> io::Result<u16> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(&self.addr).await?;
            stream.set_nodelay(true)?;
            self.stream = Some(stream);
            self.buffer.clear();
        }
        let stream = self
            .stream
            .as_mut()
            .ok_or_else(|| io::Error::other("no stream"))?;
        stream.write_all(request).await?;
        let (head_end, status, length, close) = loop {
            if let Some(end) = find(&self.buffer, b"\r\n\r\n") {
                let (status, length, close) = parse_head(&self.buffer[..end])?;
                break (end + 4, status, length, close);
            }
            read_more(stream, &mut self.buffer).await?;
        };
        while self.buffer.len() < head_end + length {
            read_more(stream, &mut self.buffer).await?;
        }
        self.buffer.drain(..head_end + length);
        if close {
            self.stream = None;
        }
        Ok(status)
    }
}

async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> io::Result<()> {
    let mut chunk = [0u8; 4096];
    let n = stream.read(&mut chunk).await?;
    if n == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    buffer.extend_from_slice(&chunk[..n]);
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Status code, `Content-Length` (0 when absent) and whether the server closes the connection.
fn parse_head(head: &[u8]) -> io::Result<(u16, usize, bool)> {
    let text = std::str::from_utf8(head).map_err(io::Error::other)?;
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other("no status line"))?;
    let (mut length, mut close) = (0, false);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().map_err(io::Error::other)?;
        } else if name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close") {
            close = true;
        }
    }
    Ok((status, length, close))
}

/// `GET /healthz`.
pub fn health() -> Vec<u8> {
    b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".to_vec()
}

/// A signed `POST /webhooks/sonarqube`.
pub fn webhook(body: &[u8], signature: &str) -> Vec<u8> {
    let mut request = format!(
        "POST /webhooks/sonarqube HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json; charset=utf-8\r\nX-Sonar-Webhook-HMAC-SHA256: {signature}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}
