//! Reading requests: the size-limited body, headers, and JSON or form bodies with Slack's errors.

use std::collections::HashMap;

use actix_web::http::header::{CONTENT_TYPE, HeaderName};
use actix_web::{HttpRequest, mime, web};
use serde_json::Value;

use super::MAX_BODY_BYTES;
use super::failure::{Failure, fail};

/// The whole body, `request_too_large` past `MAX_BODY_BYTES`.
pub(super) async fn read_body(body: web::Payload) -> Result<web::Bytes, Failure> {
    match body.to_bytes_limited(MAX_BODY_BYTES).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(Failure::error("request_timeout")), // the client broke off the body
        Err(_) => Err(Failure::TooLarge),
    }
}

/// Decodes a JSON or form body into a JSON object, with Slack's content-type errors and warnings.
pub(super) fn parse_body(
    content_type: Option<&str>,
    bytes: &[u8],
) -> Result<(Value, Vec<String>), Failure> {
    let content_type = content_type.ok_or_else(|| Failure::error("invalid_post_type"))?;
    let mime: mime::Mime = content_type.parse().map_err(fail("invalid_form_data"))?;
    let charset = mime
        .get_param(mime::CHARSET)
        .map(|c| c.as_str().to_lowercase());
    if charset
        .as_deref()
        .is_some_and(|c| c != "utf-8" && c != "utf8")
    {
        return Err(Failure::error("invalid_charset"));
    }
    match (mime.type_(), mime.subtype()) {
        (mime::APPLICATION, mime::JSON) => match serde_json::from_slice::<Value>(bytes) {
            Ok(body) if body.is_object() => {
                let warning = charset.is_none().then(|| "missing_charset".to_owned());
                Ok((body, warning.into_iter().collect()))
            }
            _ => Err(Failure::error("invalid_json")),
        },
        (mime::APPLICATION, mime::WWW_FORM_URLENCODED) => {
            let text = std::str::from_utf8(bytes).map_err(fail("invalid_charset"))?;
            let fields = web::Query::<Vec<(String, String)>>::from_query(text);
            let fields = fields.map_err(fail("invalid_form_data"))?.into_inner();
            let body = fields.into_iter().map(|(k, v)| (k, v.into())).collect();
            Ok((Value::Object(body), Vec::new()))
        }
        _ => Err(Failure::error("invalid_form_data")),
    }
}

/// The query string's fields, then a form body's (which win), like Slack's read methods; these
/// take no JSON, so a JSON body adds no fields.
pub(super) fn params(req: &HttpRequest, body: &[u8]) -> Result<HashMap<String, String>, Failure> {
    let query = web::Query::<Vec<(String, String)>>::from_query(req.query_string());
    let mut params: HashMap<_, _> = query
        .map_err(fail("invalid_form_data"))?
        .into_inner()
        .into_iter()
        .collect();
    let content_type = header(req, CONTENT_TYPE).unwrap_or_default();
    let form = mime::APPLICATION_WWW_FORM_URLENCODED.essence_str();
    if !content_type.starts_with(form) {
        return Ok(params);
    }
    if let (Value::Object(fields), _) = parse_body(Some(content_type), body)? {
        let strings = fields
            .into_iter()
            .filter_map(|(k, v)| Some((k, v.as_str()?.to_owned())));
        params.extend(strings);
    }
    Ok(params)
}

pub(super) fn header(req: &HttpRequest, name: HeaderName) -> Option<&str> {
    req.headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
}

pub(super) fn non_empty_str(body: &Value, key: &str) -> Option<String> {
    let value = body.get(key).and_then(Value::as_str)?;
    (!value.trim().is_empty()).then(|| value.to_owned())
}
