//! Small HTML pages for browsers (install results, the account-linking form): escaped text, no
//! scripts, no caching, no referrer (the linking URL carries a one-time token), no framing.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page: `title` is text, `body` is HTML the caller built with [`esc`].
pub fn page(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title} · sonar-slack</title><style>{STYLE}</style></head>\
<body><main><h1>{title}</h1>{body}</main></body></html>",
        title = esc(title),
    );
    let mut response = HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(html);
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(name.clone(), HeaderValue::from_static(value));
    }
    response
}

/// A page with one paragraph of plain text.
pub fn message(status: StatusCode, title: &str, text: &str) -> HttpResponse {
    page(status, title, &format!("<p>{}</p>", esc(text)))
}

const SECURITY_HEADERS: [(header::HeaderName, &str); 5] = [
    (header::CACHE_CONTROL, "no-store"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    ),
];

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d1c1d}\
main{max-width:36rem;margin:3rem auto;padding:2rem;background:#fff;border-radius:8px;box-shadow:0 1px 3px #0002}\
h1{font-size:1.4rem;margin-top:0}code{background:#eee;padding:0 .25em;border-radius:3px}\
label{display:block;margin:1rem 0 .25rem;font-weight:600}input,select{width:100%;padding:.5rem;font:inherit;box-sizing:border-box}\
button{margin-top:1.25rem;padding:.6rem 1.2rem;font:inherit;background:#4a154b;color:#fff;border:0;border-radius:4px}\
.error{background:#fde8e8;border-left:4px solid #c00;padding:.5rem 1rem}.hint{color:#555;font-size:.9rem}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc(r#"<script>"a" & 'b'</script>"#),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn pages_forbid_caching_referrers_and_framing() {
        let r = message(StatusCode::BAD_REQUEST, "T<", "x");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(r.headers().get(header::CACHE_CONTROL).unwrap(), "no-store");
        assert_eq!(
            r.headers().get(header::REFERRER_POLICY).unwrap(),
            "no-referrer"
        );
        assert!(r.headers().get(header::CONTENT_SECURITY_POLICY).is_some());
    }
}
