//! The Slack app manifest (JSON form) that creates this service's Slack app in one paste: bot
//! user, slash command, OAuth redirect, lifecycle events and interactivity, all pointing at our
//! public URL. Pure; field names follow https://docs.slack.dev/reference/app-manifest .

use serde_json::{Value, json};

/// The bot scopes the service needs: read channel names (public and private), post (also to
/// public channels it has not joined), and the slash command.
pub const DEFAULT_BOT_SCOPES: &[&str] = &[
    "channels:read",
    "chat:write",
    "chat:write.public",
    "commands",
    "groups:read",
];

/// The slash command's usage hint, shown by Slack as the user types.
pub const USAGE_HINT: &str =
    "subscribe <project_key> | unsubscribe <project_key> | list | connect | help";

/// Slack refuses a `display_information.name` longer than this.
pub const MAX_APP_NAME_CHARS: usize = 35;

/// A Slack app manifest for a service reachable at `public_url` (with or without a trailing
/// `/`), answering the slash command `command` (`/sonarqube`; the `/` is added when missing),
/// named `app_name` (cut to [`MAX_APP_NAME_CHARS`]), asking for the bot `scopes`.
pub fn manifest(public_url: &str, command: &str, app_name: &str, scopes: &[&str]) -> Value {
    let base = public_url.trim().trim_end_matches('/');
    let command = command.trim();
    let command = if command.starts_with('/') {
        command.to_owned()
    } else {
        format!("/{command}")
    };
    let name: String = app_name.trim().chars().take(MAX_APP_NAME_CHARS).collect();
    json!({
        "display_information": {
            "name": name,
            "description": "SonarQube quality gate notifications in Slack channels",
        },
        "features": {
            "bot_user": {
                "display_name": name,
                "always_online": false,
            },
            "slash_commands": [{
                "command": command,
                "url": format!("{base}/slack/commands"),
                "description": "Subscribe this channel to SonarQube quality gate changes",
                "usage_hint": USAGE_HINT,
                "should_escape": true,
            }],
        },
        "oauth_config": {
            "redirect_urls": [format!("{base}/slack/oauth/callback")],
            "scopes": {
                "bot": scopes,
            },
        },
        "settings": {
            "event_subscriptions": {
                "request_url": format!("{base}/slack/events"),
                "bot_events": ["app_uninstalled", "tokens_revoked"],
            },
            "interactivity": {
                "is_enabled": true,
                "request_url": format!("{base}/slack/interactions"),
            },
            "org_deploy_enabled": false,
            "socket_mode_enabled": false,
            "token_rotation_enabled": false,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m() -> Value {
        manifest(
            "https://sonar-slack.example.com",
            "/sonarqube",
            "SonarQube",
            DEFAULT_BOT_SCOPES,
        )
    }

    #[test]
    fn the_whole_manifest() {
        assert_eq!(
            m(),
            json!({
                "display_information": {
                    "name": "SonarQube",
                    "description": "SonarQube quality gate notifications in Slack channels"
                },
                "features": {
                    "bot_user": {"display_name": "SonarQube", "always_online": false},
                    "slash_commands": [{
                        "command": "/sonarqube",
                        "url": "https://sonar-slack.example.com/slack/commands",
                        "description": "Subscribe this channel to SonarQube quality gate changes",
                        "usage_hint": "subscribe <project_key> | unsubscribe <project_key> | list | connect | help",
                        "should_escape": true
                    }]
                },
                "oauth_config": {
                    "redirect_urls": ["https://sonar-slack.example.com/slack/oauth/callback"],
                    "scopes": {"bot": ["channels:read", "chat:write", "chat:write.public", "commands", "groups:read"]}
                },
                "settings": {
                    "event_subscriptions": {
                        "request_url": "https://sonar-slack.example.com/slack/events",
                        "bot_events": ["app_uninstalled", "tokens_revoked"]
                    },
                    "interactivity": {
                        "is_enabled": true,
                        "request_url": "https://sonar-slack.example.com/slack/interactions"
                    },
                    "org_deploy_enabled": false,
                    "socket_mode_enabled": false,
                    "token_rotation_enabled": false
                }
            })
        );
    }

    #[test]
    fn trailing_slashes_and_spaces_are_dropped() {
        for url in [
            "https://sonar-slack.example.com/",
            "https://sonar-slack.example.com//",
            " https://sonar-slack.example.com/ ",
        ] {
            assert_eq!(
                manifest(url, "/sonarqube", "SonarQube", DEFAULT_BOT_SCOPES),
                m(),
                "{url}"
            );
        }
        let under_path = manifest("https://x.example.com/hooks/", "/sq", "SQ", &[]);
        assert_eq!(
            under_path["features"]["slash_commands"][0]["url"],
            "https://x.example.com/hooks/slack/commands"
        );
        assert_eq!(
            under_path["oauth_config"]["redirect_urls"][0],
            "https://x.example.com/hooks/slack/oauth/callback"
        );
    }

    #[test]
    fn command_gets_its_slash_and_scopes_are_passed_through() {
        let v = manifest("https://x", "sonar", "S", &["commands", "chat:write"]);
        assert_eq!(v["features"]["slash_commands"][0]["command"], "/sonar");
        assert_eq!(
            v["oauth_config"]["scopes"]["bot"],
            json!(["commands", "chat:write"])
        );
    }

    #[test]
    fn long_names_are_cut_to_what_slack_accepts() {
        let long = "É".repeat(50);
        let v = manifest("https://x", "/s", &long, DEFAULT_BOT_SCOPES);
        let name = v["display_information"]["name"]
            .as_str()
            .unwrap_or_default();
        assert_eq!(name.chars().count(), MAX_APP_NAME_CHARS);
        assert_eq!(v["features"]["bot_user"]["display_name"], name);
    }

    #[test]
    fn default_scopes_cover_what_the_service_does() {
        for scope in ["chat:write", "chat:write.public", "commands"] {
            assert!(DEFAULT_BOT_SCOPES.contains(&scope), "{scope}");
        }
    }
}
