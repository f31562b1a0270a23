//! The slash-command grammar: the `text` of `/sonarqube …` to a [`Command`], leniently, and the
//! help text that documents it.
//!
//! Grammar (subcommands are case-insensitive):
//!
//! - empty, `help`, `?`, `-h`, `--help` → [`Command::Help`] (arguments after `help` are ignored);
//! - `connect`, `list` (or `ls`) → no arguments;
//! - `disconnect [<target>]`;
//! - `subscribe <key>… [<target>]`, `unsubscribe <key>… [<target>]`: keys separated by spaces
//!   and/or commas, duplicates dropped (first occurrence kept);
//! - anything else → [`Command::Unknown`] (the caller shows help).
//!
//! A target (a SonarQube server URL or an organization) is given as `on <x>`, `--on <x>`,
//! `--on=<x>`, `server=<x>` or `org=<x>` anywhere after the subcommand, or as the **last**
//! argument when that is an `http://` or `https://` URL.
//!
//! Each argument is cleaned: surrounding spaces and quotes (`"` `'` `“ ”` `‘ ’` `„` `‚` and
//! backticks) are stripped and Slack's escaping is undone: `<https://x|label>` and `<https://x>`
//! become the URL (but a bare word Slack turned into a link, `<http://a.b|a.b>`, stays the word the
//! user typed), and `&amp;` `&lt;` `&gt;` become `&` `<` `>`. Channel, user and special mentions
//! (`<#C…|name>`, `<@U…>`, `<!here>`) are refused with an error saying so.
//!
//! Error messages are plain text holding what the user typed: escape them before putting them
//! in mrkdwn.

use super::message::escape_mrkdwn;
use super::types::ProjectKey;

/// A parsed slash command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    Connect,
    Disconnect {
        target: Option<String>,
    },
    Subscribe {
        keys: Vec<ProjectKey>,
        /// A SonarQube server URL or organization, as given (the caller resolves it).
        on: Option<String>,
    },
    Unsubscribe {
        keys: Vec<ProjectKey>,
        on: Option<String>,
    },
    List,
    /// The first word was no subcommand; `word` is that word, cleaned.
    Unknown {
        word: String,
    },
}

impl Command {
    /// The subcommand's name, for logs (never the arguments, which may hold anything pasted).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Help => "help",
            Self::Connect => "connect",
            Self::Disconnect { .. } => "disconnect",
            Self::Subscribe { .. } => "subscribe",
            Self::Unsubscribe { .. } => "unsubscribe",
            Self::List => "list",
            Self::Unknown { .. } => "unknown",
        }
    }
}

/// Why a command's arguments were refused. The messages say what to type instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error(
        "`{sub}` needs at least one project key, e.g. `{sub} my-project` (several: `{sub} a b c` \
         or `{sub} a,b,c`); a project's key is on its Project Information page in SonarQube"
    )]
    MissingKey { sub: &'static str },
    #[error("“{given}” is not a project key: {why}")]
    BadKey { given: String, why: &'static str },
    #[error(
        "`{flag}` needs a SonarQube server URL or organization after it, e.g. \
         `{flag} https://sonarqube.example.com` or `{flag} my-org`"
    )]
    MissingTarget { flag: String },
    #[error("“{given}” is not a SonarQube server URL or organization: {why}")]
    BadTarget { given: String, why: &'static str },
    #[error("two servers or organizations given, “{first}” and “{second}”: name one per command")]
    TwoTargets { first: String, second: String },
    #[error("`{sub}` takes no arguments, but got “{given}”: type just `{sub}`")]
    UnexpectedArgs { sub: &'static str, given: String },
}

/// Parses the `text` field of a slash command.
pub fn parse(text: &str) -> Result<Command, CommandError> {
    let mut tokens = split_words(text).into_iter();
    let Some(first) = tokens.next() else {
        return Ok(Command::Help);
    };
    let rest: Vec<String> = tokens.collect();
    match first.to_lowercase().as_str() {
        "help" | "?" | "-h" | "--help" => Ok(Command::Help),
        "connect" => no_args("connect", &rest).map(|()| Command::Connect),
        "list" | "ls" => no_args("list", &rest).map(|()| Command::List),
        "disconnect" => disconnect(&rest),
        "subscribe" => {
            keys_and_target("subscribe", &rest).map(|(keys, on)| Command::Subscribe { keys, on })
        }
        "unsubscribe" => keys_and_target("unsubscribe", &rest)
            .map(|(keys, on)| Command::Unsubscribe { keys, on }),
        _ => Ok(Command::Unknown {
            word: Word::from_token(&first).text,
        }),
    }
}

/// The help message, in mrkdwn: one line per subcommand saying what it does, then the argument
/// forms. `command_name` is the slash command (`/sonarqube`).
pub fn help_text(command_name: &str) -> String {
    let name = command_name.trim();
    let cmd = if name.starts_with('/') {
        name.to_owned()
    } else {
        format!("/{name}")
    };
    let text = [
        format!(
            "`{cmd} subscribe <project_key> [<project_key>…] [on <server URL or organization>]` \
             – post in this channel when a project's quality gate on its main branch goes from \
             Passed to Failed or back (you need Browse permission on the project)"
        ),
        format!(
            "`{cmd} unsubscribe <project_key> [<project_key>…] [on <server URL or organization>]` \
             – stop posting those projects' quality gate changes in this channel"
        ),
        format!("`{cmd} list` – show which projects this channel is subscribed to"),
        format!("`{cmd} connect` – link your Slack account to your SonarQube account"),
        format!(
            "`{cmd} disconnect [<server URL or organization>]` – unlink your Slack account from \
             SonarQube"
        ),
        format!("`{cmd} help` – show this help"),
        "Several keys: `a b c` or `a,b,c`; quotes around keys are fine. Name the SonarQube server \
         or organization with `on https://sonarqube.example.com`, `on my-org`, `--on <x>`, \
         `server=<url>` or `org=<organization>`, or put the server URL last."
            .to_owned(),
    ]
    .join("\n");
    escape_mrkdwn(&text)
}

fn no_args(sub: &'static str, rest: &[String]) -> Result<(), CommandError> {
    if rest.is_empty() {
        Ok(())
    } else {
        Err(CommandError::UnexpectedArgs {
            sub,
            given: rest.join(" "),
        })
    }
}

fn disconnect(rest: &[String]) -> Result<Command, CommandError> {
    let (words, explicit) = split_target(rest)?;
    let mut targets = explicit.map(Ok).into_iter().chain(
        words
            .into_iter()
            .map(|(token, word)| target_value(&token, word)),
    );
    let target = targets.next().transpose()?;
    if let (Some(first), Some(second)) = (&target, targets.next().transpose()?) {
        return Err(CommandError::TwoTargets {
            first: first.clone(),
            second,
        });
    }
    Ok(Command::Disconnect { target })
}

fn keys_and_target(
    sub: &'static str,
    rest: &[String],
) -> Result<(Vec<ProjectKey>, Option<String>), CommandError> {
    let (mut words, explicit) = split_target(rest)?;
    let on = match explicit {
        Some(t) => Some(t),
        // Only the last argument may be a bare server URL.
        None => match words.last() {
            Some((_, word)) if word.is_url => words.pop().map(|(_, w)| w.text),
            _ => None,
        },
    };
    let mut keys: Vec<ProjectKey> = Vec::new();
    for (token, word) in words {
        let key = project_key(&token, word)?;
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    if keys.is_empty() {
        return Err(CommandError::MissingKey { sub });
    }
    Ok((keys, on))
}

/// The arguments that were not a target form, each with the token it came from.
type Words = Vec<(String, Word)>;

/// Takes the explicit target forms out of `rest`; returns the other words and the target, if one
/// was named. Naming two is an error.
fn split_target(rest: &[String]) -> Result<(Words, Option<String>), CommandError> {
    let mut words = Vec::new();
    let mut target: Option<String> = None;
    let mut tokens = rest.iter();
    while let Some(token) = tokens.next() {
        let value = if token.eq_ignore_ascii_case("on") || token.eq_ignore_ascii_case("--on") {
            let value = tokens.next().ok_or_else(|| CommandError::MissingTarget {
                flag: token.clone(),
            })?;
            target_value(value, Word::from_token(value))?
        } else if let Some(value) = ["--on=", "server=", "org="]
            .iter()
            .find_map(|prefix| strip_prefix_ci(token, prefix))
        {
            let word = Word::from_token(value);
            if word.text.is_empty() {
                return Err(CommandError::MissingTarget {
                    flag: token.trim_end_matches('=').to_owned(),
                });
            }
            target_value(value, word)?
        } else {
            words.push((token.clone(), Word::from_token(token)));
            continue;
        };
        if let Some(first) = &target {
            return Err(CommandError::TwoTargets {
                first: first.clone(),
                second: value,
            });
        }
        target = Some(value);
    }
    Ok((words, target))
}

fn target_value(token: &str, word: Word) -> Result<String, CommandError> {
    if let Some(what) = word.mention {
        return Err(CommandError::BadTarget {
            given: token.to_owned(),
            why: what,
        });
    }
    if word.text.chars().any(char::is_whitespace) {
        return Err(CommandError::BadTarget {
            given: word.text,
            why: "it contains spaces",
        });
    }
    Ok(word.text)
}

const KEY_RULE: &str = "SonarQube project keys hold only letters, digits, `-`, `_`, `.` and `:`";

fn project_key(token: &str, word: Word) -> Result<ProjectKey, CommandError> {
    if let Some(what) = word.mention {
        return Err(CommandError::BadKey {
            given: token.to_owned(),
            why: what,
        });
    }
    if word.is_url {
        return Err(CommandError::BadKey {
            given: word.text,
            why: "it is a URL; give project keys (shown on the project's Project Information \
                  page), and a server URL last or after `on`",
        });
    }
    // SonarQube's own rule for keys; anything else is a typo or a paste gone wrong.
    if !word
        .text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
    {
        return Err(CommandError::BadKey {
            given: word.text,
            why: KEY_RULE,
        });
    }
    ProjectKey::parse(&word.text).map_err(|e| CommandError::BadKey {
        given: word.text,
        why: e.why,
    })
}

/// One argument with quotes and Slack's escaping undone.
#[derive(Debug, PartialEq, Eq)]
struct Word {
    /// What the user meant: a link's URL, or the text as typed.
    text: String,
    /// Whether `text` is an `http(s)://` URL the user gave.
    is_url: bool,
    /// Set when the argument is a Slack mention: what kind, as an explanation.
    mention: Option<&'static str>,
}

impl Word {
    fn from_token(token: &str) -> Self {
        let t = strip_quotes(token);
        let Some(inner) = t.strip_prefix('<').and_then(|s| s.strip_suffix('>')) else {
            let text = unescape(t);
            return Self {
                is_url: is_http(&text),
                text,
                mention: None,
            };
        };
        let mention = match inner.chars().next() {
            Some('#') => Some("it is a channel mention (`#channel`)"),
            Some('@') => Some("it is a user mention (`@someone`)"),
            Some('!') => Some("it is a special mention (`@here`, a user group or a date)"),
            _ => None,
        };
        if mention.is_some() {
            return Self {
                text: unescape(inner),
                is_url: false,
                mention,
            };
        }
        let (url, label) = match inner.split_once('|') {
            Some((url, label)) => (unescape(url), Some(unescape(label))),
            None => (unescape(inner), None),
        };
        // Slack links bare words that look like domains (`a.example.com` becomes
        // `<http://a.example.com|a.example.com>`): then the user meant the word, not a URL.
        if let Some(label) = label
            && strip_scheme(&url).is_some_and(|rest| rest == label)
        {
            return Self {
                is_url: is_http(&label),
                text: label,
                mention: None,
            };
        }
        Self {
            is_url: is_http(&url),
            text: url,
            mention: None,
        }
    }
}

fn strip_scheme(url: &str) -> Option<&str> {
    ["http://", "https://", "mailto:"]
        .iter()
        .find_map(|s| strip_prefix_ci(url, s))
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    s.get(..prefix.len())
        .filter(|head| head.eq_ignore_ascii_case(prefix))
        .map(|_| &s[prefix.len()..])
}

fn is_http(s: &str) -> bool {
    ["http://", "https://"]
        .iter()
        .any(|p| strip_prefix_ci(s, p).is_some_and(|rest| !rest.is_empty()))
}

/// Undoes Slack's escaping of `&`, `<` and `>` (`&amp;` last, so `&amp;lt;` stays `&lt;`).
fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

const DOUBLE_QUOTES: &[char] = &['"', '“', '”', '„'];
const SINGLE_QUOTES: &[char] = &['\'', '‘', '’', '‚'];

fn is_quote(c: char) -> bool {
    DOUBLE_QUOTES.contains(&c) || SINGLE_QUOTES.contains(&c) || c == '`'
}

/// Characters that separate words besides Unicode white space: commas, and the invisible
/// characters that copy-paste leaves behind (zero-width space, word joiner, BOM).
fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, ',' | '\u{200B}' | '\u{2060}' | '\u{FEFF}')
}

fn strip_quotes(s: &str) -> &str {
    s.trim_matches(|c: char| is_separator(c) || is_quote(c))
}

/// The closing quotes for an opening one: any quote of the same family.
fn closes(open: char, c: char) -> bool {
    if DOUBLE_QUOTES.contains(&open) {
        DOUBLE_QUOTES.contains(&c)
    } else if SINGLE_QUOTES.contains(&open) {
        SINGLE_QUOTES.contains(&c)
    } else {
        c == open
    }
}

/// Splits on spaces and commas, except inside `<…>` and inside quotes that open a word (or a
/// value after `=`); commas separate even inside quotes. Quote characters that open or close a
/// quoted run are dropped; empty words are dropped.
fn split_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut in_link = false;
    for c in text.chars() {
        if in_link {
            current.push(c);
            in_link = c != '>';
        } else if c == '<' {
            current.push(c);
            in_link = true;
        } else if let Some(open) = quote {
            if closes(open, c) {
                quote = None;
            } else if c == ',' {
                words.push(std::mem::take(&mut current));
            } else {
                current.push(c);
            }
        } else if is_quote(c) && (current.is_empty() || current.ends_with('=')) {
            quote = Some(c);
        } else if is_separator(c) {
            words.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    words.push(current);
    words
        .into_iter()
        .map(|w| strip_quotes(&w).to_owned())
        .filter(|w| !w.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(list: &[&str]) -> Vec<ProjectKey> {
        list.iter()
            .map(|k| ProjectKey::parse(k).expect("valid key"))
            .collect()
    }

    fn sub(list: &[&str], on: Option<&str>) -> Command {
        Command::Subscribe {
            keys: keys(list),
            on: on.map(str::to_owned),
        }
    }

    fn p(text: &str) -> Command {
        parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    #[test]
    fn empty_and_help_give_help() {
        for text in [
            "",
            "   ",
            "\n\t",
            "help",
            "HELP",
            " Help me ",
            "?",
            "--help",
            "-h",
            "\"\"",
        ] {
            assert_eq!(p(text), Command::Help, "{text:?}");
        }
    }

    #[test]
    fn subcommands_are_case_insensitive() {
        assert_eq!(p("LIST"), Command::List);
        assert_eq!(p("ls"), Command::List);
        assert_eq!(p("Connect"), Command::Connect);
        assert_eq!(p("DISCONNECT"), Command::Disconnect { target: None });
        assert_eq!(p("SubScribe a"), sub(&["a"], None));
        assert_eq!(
            p("UNSUBSCRIBE a"),
            Command::Unsubscribe {
                keys: keys(&["a"]),
                on: None
            }
        );
    }

    #[test]
    fn unknown_words_are_returned_for_help() {
        assert_eq!(
            p("subscirbe my-proj"),
            Command::Unknown {
                word: "subscirbe".into()
            }
        );
        assert_eq!(
            p("“my-proj”"),
            Command::Unknown {
                word: "my-proj".into()
            }
        );
    }

    #[test]
    fn one_key_and_many() {
        assert_eq!(p("subscribe my-proj"), sub(&["my-proj"], None));
        assert_eq!(p("subscribe org:svc"), sub(&["org:svc"], None));
        assert_eq!(p("subscribe a b c"), sub(&["a", "b", "c"], None));
        assert_eq!(p("subscribe a,b,c"), sub(&["a", "b", "c"], None));
        assert_eq!(p("subscribe a, b ,c,, d"), sub(&["a", "b", "c", "d"], None));
        assert_eq!(p("subscribe\u{a0}a\u{200b}b"), sub(&["a", "b"], None));
    }

    #[test]
    fn duplicates_are_dropped_keeping_order() {
        assert_eq!(p("subscribe b a b c a"), sub(&["b", "a", "c"], None));
        assert_eq!(p("subscribe a \"a\" ‘a’"), sub(&["a"], None));
    }

    #[test]
    fn quotes_and_spaces_are_stripped() {
        for text in [
            "subscribe \"my-proj\"",
            "subscribe 'my-proj'",
            "subscribe “my-proj”",
            "subscribe ”my-proj”",
            "subscribe ‘my-proj’",
            "subscribe `my-proj`",
            "subscribe \" my-proj \"",
            "subscribe “ my-proj",
            "subscribe my-proj\"",
            "  subscribe    my-proj   ",
        ] {
            assert_eq!(p(text), sub(&["my-proj"], None), "{text:?}");
        }
        assert_eq!(p("subscribe \"a, b\" 'c'"), sub(&["a", "b", "c"], None));
    }

    #[test]
    fn a_quoted_key_with_a_space_is_refused_not_split() {
        assert_eq!(
            parse("subscribe \"my proj\""),
            Err(CommandError::BadKey {
                given: "my proj".into(),
                why: KEY_RULE
            })
        );
    }

    #[test]
    fn missing_keys() {
        for text in [
            "subscribe",
            "subscribe  , ",
            "subscribe \"\"",
            "subscribe https://sq.example.com",
        ] {
            assert_eq!(
                parse(text),
                Err(CommandError::MissingKey { sub: "subscribe" }),
                "{text:?}"
            );
        }
        assert_eq!(
            parse("unsubscribe on my-org"),
            Err(CommandError::MissingKey { sub: "unsubscribe" })
        );
    }

    #[test]
    fn bare_url_target_only_last() {
        assert_eq!(
            p("subscribe a b https://sq.example.com/"),
            sub(&["a", "b"], Some("https://sq.example.com/"))
        );
        assert_eq!(
            p("subscribe a HTTP://sq:9000"),
            sub(&["a"], Some("HTTP://sq:9000"))
        );
        assert!(matches!(
            parse("subscribe https://sq.example.com a"),
            Err(CommandError::BadKey { given, .. }) if given == "https://sq.example.com"
        ));
        // An organization needs an explicit form: a bare last word is a key.
        assert_eq!(p("subscribe a my-org"), sub(&["a", "my-org"], None));
    }

    #[test]
    fn explicit_target_forms() {
        let want = sub(&["a", "b"], Some("https://sq.example.com"));
        for text in [
            "subscribe a b on https://sq.example.com",
            "subscribe a on https://sq.example.com b",
            "subscribe on https://sq.example.com a b",
            "subscribe a b ON https://sq.example.com",
            "subscribe a b --on https://sq.example.com",
            "subscribe a b --on=https://sq.example.com",
            "subscribe a b server=https://sq.example.com",
            "subscribe a b Server=\"https://sq.example.com\"",
            "subscribe a b on <https://sq.example.com>",
            "subscribe a b on <https://sq.example.com|our SonarQube>",
            "subscribe a b server=<https://sq.example.com|sq>",
            "subscribe a,b <https://sq.example.com|SonarQube>",
        ] {
            assert_eq!(p(text), want, "{text:?}");
        }
        assert_eq!(p("subscribe a org=my-org"), sub(&["a"], Some("my-org")));
        assert_eq!(p("subscribe a on “my-org”"), sub(&["a"], Some("my-org")));
        // With an explicit target, a URL among the keys is still no key.
        assert!(matches!(
            parse("subscribe a https://x on my-org"),
            Err(CommandError::BadKey { .. })
        ));
    }

    #[test]
    fn target_errors() {
        assert_eq!(
            parse("subscribe a on"),
            Err(CommandError::MissingTarget { flag: "on".into() })
        );
        assert_eq!(
            parse("subscribe a --on"),
            Err(CommandError::MissingTarget {
                flag: "--on".into()
            })
        );
        assert_eq!(
            parse("subscribe a org="),
            Err(CommandError::MissingTarget { flag: "org".into() })
        );
        assert_eq!(
            parse("subscribe a on x org=y"),
            Err(CommandError::TwoTargets {
                first: "x".into(),
                second: "y".into()
            })
        );
        assert!(matches!(
            parse("subscribe a on <#C123|general>"),
            Err(CommandError::BadTarget { .. })
        ));
        assert!(matches!(
            parse("subscribe a on \"my org\""),
            Err(CommandError::BadTarget {
                why: "it contains spaces",
                ..
            })
        ));
    }

    #[test]
    fn slack_autolinked_words_stay_words() {
        // Slack turns `com.example.app` typed by the user into a link.
        assert_eq!(
            p("subscribe <http://com.example.app|com.example.app>"),
            sub(&["com.example.app"], None)
        );
        // And a typed URL stays a URL (here, the target).
        assert_eq!(
            p("subscribe k <https://sq.example.com|https://sq.example.com>"),
            sub(&["k"], Some("https://sq.example.com"))
        );
        // A domain without scheme given as target is kept as typed.
        assert_eq!(
            p("subscribe k on <http://sq.example.com|sq.example.com>"),
            sub(&["k"], Some("sq.example.com"))
        );
    }

    #[test]
    fn slack_escapes_are_undone() {
        assert_eq!(
            p("subscribe k <https://sq.example.com/a?x=1&amp;y=2>"),
            sub(&["k"], Some("https://sq.example.com/a?x=1&y=2"))
        );
        // Unescaped first, then judged: `&` is no key character.
        assert_eq!(
            parse("subscribe a&amp;b"),
            Err(CommandError::BadKey {
                given: "a&b".into(),
                why: KEY_RULE
            })
        );
    }

    #[test]
    fn mentions_are_not_keys() {
        for (text, given, why) in [
            ("subscribe <#C123|general>", "<#C123|general>", "channel"),
            ("subscribe <#C123>", "<#C123>", "channel"),
            ("subscribe <@U1|bob>", "<@U1|bob>", "user"),
            ("subscribe <!here>", "<!here>", "special"),
            (
                "subscribe <!subteam^S1|@devs>",
                "<!subteam^S1|@devs>",
                "special",
            ),
        ] {
            match parse(text) {
                Err(CommandError::BadKey { given: g, why: w }) => {
                    assert_eq!(g, given, "{text:?}");
                    assert!(w.contains(why), "{text:?}: {w}");
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
        // A label with spaces inside a link does not split the word.
        assert!(matches!(
            parse("subscribe <#C123|my channel> a"),
            Err(CommandError::BadKey { given, .. }) if given == "<#C123|my channel>"
        ));
    }

    #[test]
    fn keys_follow_sonarqubes_rule() {
        assert_eq!(p("subscribe org:svc-a_1.2"), sub(&["org:svc-a_1.2"], None));
        for bad in ["projé✓", "a`b", "a*b", "a<b"] {
            assert_eq!(
                parse(&format!("subscribe {bad}")),
                Err(CommandError::BadKey {
                    given: bad.into(),
                    why: KEY_RULE
                }),
                "{bad}"
            );
        }
    }

    #[test]
    fn connect_and_list_take_no_arguments() {
        assert_eq!(
            parse("connect https://sq"),
            Err(CommandError::UnexpectedArgs {
                sub: "connect",
                given: "https://sq".into()
            })
        );
        assert_eq!(
            parse("list a b"),
            Err(CommandError::UnexpectedArgs {
                sub: "list",
                given: "a b".into()
            })
        );
    }

    #[test]
    fn disconnect_takes_at_most_one_target() {
        assert_eq!(p("disconnect"), Command::Disconnect { target: None });
        for text in [
            "disconnect https://sq.example.com",
            "disconnect <https://sq.example.com|SQ>",
            "disconnect on https://sq.example.com",
            "disconnect server=https://sq.example.com",
        ] {
            assert_eq!(
                p(text),
                Command::Disconnect {
                    target: Some("https://sq.example.com".into())
                },
                "{text:?}"
            );
        }
        assert_eq!(
            p("disconnect “my-org”"),
            Command::Disconnect {
                target: Some("my-org".into())
            }
        );
        assert_eq!(
            parse("disconnect a b"),
            Err(CommandError::TwoTargets {
                first: "a".into(),
                second: "b".into()
            })
        );
        assert_eq!(
            parse("disconnect on a b"),
            Err(CommandError::TwoTargets {
                first: "a".into(),
                second: "b".into()
            })
        );
        assert!(matches!(
            parse("disconnect <@U1>"),
            Err(CommandError::BadTarget { .. })
        ));
    }

    #[test]
    fn long_keys_are_refused() {
        let long = "k".repeat(401);
        assert!(matches!(
            parse(&format!("subscribe {long}")),
            Err(CommandError::BadKey {
                why: "it is too long",
                ..
            })
        ));
    }

    #[test]
    fn error_messages_say_what_to_do() {
        let missing = CommandError::MissingKey { sub: "subscribe" }.to_string();
        assert!(missing.contains("`subscribe my-project`"), "{missing}");
        let flag = CommandError::MissingTarget { flag: "on".into() }.to_string();
        assert!(flag.contains("`on https://"), "{flag}");
    }

    #[test]
    fn help_has_a_line_per_subcommand_and_is_escaped() {
        let help = help_text("/sonarqube");
        for sub in [
            "subscribe",
            "unsubscribe",
            "list",
            "connect",
            "disconnect",
            "help",
        ] {
            assert!(
                help.lines()
                    .any(|l| l.starts_with(&format!("`/sonarqube {sub}"))),
                "{sub}: {help}"
            );
        }
        for form in ["on https://", "--on", "server=", "org=", "a,b,c"] {
            assert!(help.contains(form), "{form}: {help}");
        }
        assert!(!help.contains('<') && !help.contains('>'), "{help}");
        assert!(help.contains("&lt;project_key&gt;"), "{help}");
        assert!(help_text("sonar").starts_with("`/sonar subscribe"));
        assert!(help_text("/a<b").contains("/a&lt;b"));
    }

    #[test]
    fn odd_input_never_panics() {
        for text in [
            "<",
            ">",
            "<<<",
            "\"",
            "“",
            "subscribe <",
            "subscribe <https://",
            "subscribe a=",
            "server=",
            "subscribe server=",
            "subscribe --on=\"\"",
            "subscribe <|>",
            "subscribe <>",
            "subscribe &amp;",
            "subscribe ,,,",
            "on on on",
            "subscribe on on",
            "disconnect =",
        ] {
            let _ = parse(text);
        }
        // A small deterministic generator over the characters the grammar cares about.
        let alphabet: Vec<char> = "ab:-_. ,\"'“”‘’`<>|#@!=&;/onhtps\u{a0}\u{200b}é🚀SUBSCRIBE"
            .chars()
            .collect();
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            let mut text = String::from("subscribe ");
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 24) as usize;
            for i in 0..len {
                let idx = (state.rotate_left(i as u32 * 5) % alphabet.len() as u64) as usize;
                text.push(alphabet[idx]);
            }
            if let Ok(Command::Subscribe { keys, on }) = parse(&text) {
                assert!(!keys.is_empty(), "{text:?}");
                for k in &keys {
                    assert!(!k.as_str().is_empty() && !k.as_str().contains(char::is_whitespace));
                }
                let repeated = (1..keys.len()).any(|i| keys[..i].contains(&keys[i]));
                assert!(!repeated, "{text:?}");
                assert!(on.is_none_or(|t| !t.is_empty()), "{text:?}");
            }
        }
    }

    #[test]
    fn the_example_in_help_parses() {
        assert_eq!(
            p("subscribe a,b on https://sonarqube.example.com"),
            sub(&["a", "b"], Some("https://sonarqube.example.com"))
        );
    }
}
