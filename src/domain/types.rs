//! Parse-don't-validate newtypes for the identifiers the engine passes around.

use std::fmt;

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {value:?} is not valid: {why}")]
pub struct InvalidId {
    pub what: &'static str,
    pub value: String,
    pub why: &'static str,
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// A SonarQube project key: non-empty, no whitespace or control characters. May hold `:`.
    ProjectKey
);
string_id!(
    /// A SonarQube server's public base URL as it appears in `serverUrl`, without a trailing `/`.
    ServerUrl
);
string_id!(
    /// A Slack workspace id (`T…`, or `E…` for an org-wide install).
    TeamId
);
string_id!(
    /// A Slack conversation id (`C…`, `G…`, `D…`).
    ChannelId
);

fn check_token(what: &'static str, raw: &str, max: usize) -> Result<String, InvalidId> {
    let v = raw.trim();
    let fail = |why| InvalidId {
        what,
        value: raw.to_owned(),
        why,
    };
    if v.is_empty() {
        return Err(fail("it is empty"));
    }
    if v.len() > max {
        return Err(fail("it is too long"));
    }
    if v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(fail("it contains spaces or control characters"));
    }
    Ok(v.to_owned())
}

impl ProjectKey {
    pub fn parse(raw: &str) -> Result<Self, InvalidId> {
        check_token("project key", raw, 400).map(Self)
    }
}

impl ServerUrl {
    /// Trims spaces and trailing slashes and lower-cases the scheme and host (which are
    /// case-insensitive); the path is kept as it is.
    pub fn parse(raw: &str) -> Result<Self, InvalidId> {
        let v = check_token("server URL", raw, 2000)?;
        let v = match v.split_once("://") {
            Some((scheme, rest)) => {
                let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
                format!(
                    "{}://{}{path}",
                    scheme.to_ascii_lowercase(),
                    host.to_ascii_lowercase()
                )
            }
            None => v,
        };
        let v = v.trim_end_matches('/');
        if v.is_empty() {
            return Err(InvalidId {
                what: "server URL",
                value: raw.to_owned(),
                why: "it is empty",
            });
        }
        Ok(Self(v.to_owned()))
    }

    /// Whether the URL looks like an http(s) URL; used to warn, not to refuse (old docs examples
    /// carry placeholders such as `<mySonarqubeURL>`).
    pub fn looks_like_http(&self) -> bool {
        self.0.starts_with("http://") || self.0.starts_with("https://")
    }
}

fn slack_id(what: &'static str, raw: &str, prefixes: &[char]) -> Result<String, InvalidId> {
    let v = check_token(what, raw, 64)?;
    let ok = v.starts_with(prefixes) && v.chars().all(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(v)
    } else {
        Err(InvalidId {
            what,
            value: raw.to_owned(),
            why: "Slack ids are upper-case letters and digits starting with the right letter (see the id in the channel's or workspace's About panel)",
        })
    }
}

impl TeamId {
    pub fn parse(raw: &str) -> Result<Self, InvalidId> {
        slack_id("team id", raw, &['T', 'E']).map(Self)
    }
}

impl ChannelId {
    pub fn parse(raw: &str) -> Result<Self, InvalidId> {
        slack_id("channel id", raw, &['C', 'G', 'D']).map(Self)
    }
}

/// Which ids key an installation, most specific first: an organization-wide (Enterprise Grid)
/// install is the enterprise's, any other is the team's.
pub fn installation_keys<'a>(
    team: Option<&'a str>,
    enterprise: Option<&'a str>,
    org_wide: bool,
) -> Vec<&'a str> {
    let (first, second) = if org_wide {
        (enterprise, team)
    } else {
        (team, enterprise)
    };
    first
        .into_iter()
        .chain(second)
        .filter(|k| !k.is_empty())
        .collect()
}

/// Percent-encodes a query value (everything but RFC 3986 unreserved characters).
pub fn encode_query_value(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn installations_are_keyed_by_enterprise_only_when_org_wide() {
        assert_eq!(
            installation_keys(Some("T1"), Some("E1"), false),
            ["T1", "E1"]
        );
        assert_eq!(
            installation_keys(Some("T1"), Some("E1"), true),
            ["E1", "T1"]
        );
        assert_eq!(installation_keys(None, Some("E1"), true), ["E1"]);
        assert_eq!(installation_keys(Some(""), None, false), Vec::<&str>::new());
    }

    use super::*;

    #[test]
    fn project_keys_keep_colons_and_refuse_spaces() {
        assert_eq!(ProjectKey::parse(" org:svc ").unwrap().as_str(), "org:svc");
        assert!(ProjectKey::parse("a b").is_err());
        assert!(ProjectKey::parse("").is_err());
    }

    #[test]
    fn server_urls_lose_trailing_slashes() {
        assert_eq!(
            ServerUrl::parse("http://sq:9000//").unwrap().as_str(),
            "http://sq:9000"
        );
        assert!(ServerUrl::parse("/").is_err());
        assert_eq!(
            ServerUrl::parse("HTTPS://SQ.Example.com/SonarQube/")
                .unwrap()
                .as_str(),
            "https://sq.example.com/SonarQube"
        );
        assert!(
            !ServerUrl::parse("<mySonarqubeURL>")
                .unwrap()
                .looks_like_http()
        );
    }

    #[test]
    fn slack_ids_are_checked() {
        assert!(TeamId::parse("T0123ABC").is_ok());
        assert!(TeamId::parse("C0123").is_err());
        assert!(ChannelId::parse("C0123ABC").is_ok());
        assert!(ChannelId::parse("#general").is_err());
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(encode_query_value("org:svc a/b"), "org%3Asvc%20a%2Fb");
        assert_eq!(encode_query_value("é"), "%C3%A9");
    }
}
