#!/usr/bin/env python3
"""Random Slack request-signing cases judged by PyPI `slack_sdk`, the independent oracle for
`sonar_slack::domain::slack_signature` (run by tests/api/signature_oracle.rs).

Usage: slack_signatures.py [N=1200] [SEED=20240531]

Prints one JSON object per line:
  secret, timestamp (string or null), now (int), body_b64, signature (string or null),
  valid (the oracle's verdict), kind (how the case was made), offset (timestamp - now, or null),
  verdict_by and signature_by ("slack_sdk", or "stdlib-hmac" where slack_sdk raises: it decodes
  the body as UTF-8 before signing, so a body that is not UTF-8 makes it throw
  UnicodeDecodeError; those cases are judged by the same rule written with Python's hmac).
Exits 3 when slack_sdk cannot be imported.
"""

import base64
import hashlib
import hmac
import json
import random
import sys

try:
    import slack_sdk
    from slack_sdk.signature import SignatureVerifier
except ImportError as e:  # the Rust side turns this into a skip or a failure
    print(f"slack_sdk is not importable by {sys.executable}: {e}", file=sys.stderr)
    sys.exit(3)

MAX_SKEW = 300


class FixedClock:
    """The clock slack_sdk's SignatureVerifier asks for `now()`; fixed per case."""

    def __init__(self, now: int):
        self._now = now

    def now(self) -> float:
        return self._now


def stdlib_signature(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: str, body: bytes):
    """(signature, by): slack_sdk's when it can sign these bytes, else the stdlib's."""
    try:
        return SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body), "slack_sdk"
    except UnicodeDecodeError:
        return stdlib_signature(secret, timestamp, body), "stdlib-hmac"


def judge(secret, timestamp, signature, body: bytes, now: int):
    """(valid, by): slack_sdk's is_valid verdict, or the same rule by hand where slack_sdk raises."""
    verifier = SignatureVerifier(secret, clock=FixedClock(now))
    try:
        return bool(verifier.is_valid(body=body, timestamp=timestamp, signature=signature)), "slack_sdk"
    except UnicodeDecodeError:
        if timestamp is None or signature is None:
            return False, "stdlib-hmac"
        if abs(now - int(timestamp)) > MAX_SKEW:
            return False, "stdlib-hmac"
        expected = stdlib_signature(secret, timestamp, body)
        return hmac.compare_digest(expected.encode(), signature.encode()), "stdlib-hmac"


def self_check():
    """slack_sdk must reproduce Slack's documented vector, or nothing below means anything."""
    secret = "8f742231b10e8888abcd99yyyzzz85a5"
    body = (
        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        "&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    got = SignatureVerifier(secret).generate_signature(timestamp="1531420618", body=body.encode())
    if got != expected:
        print(f"slack_sdk gives {got} for Slack's documented vector, not {expected}", file=sys.stderr)
        sys.exit(4)


NON_ASCII = ["é", "✓", "🚀", "ü", "日本", "ß", "\u00a0", "\u200b", "Ω", "\u0301"]
ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def random_secret(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.6:  # what Slack issues: 32 lowercase hex characters
        return "".join(rng.choice("0123456789abcdef") for _ in range(32))
    if roll < 0.9:
        return "".join(rng.choice(ALNUM + "-_.:!") for _ in range(rng.randint(1, 80)))
    return "s" + "".join(rng.choice(ALNUM + "".join(NON_ASCII)) for _ in range(rng.randint(1, 20)))


def random_text(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def random_body(rng: random.Random):
    kind = rng.choice(["ascii", "form", "json", "utf8", "invalid-utf8", "empty"])
    if kind == "ascii":
        printable = "".join(chr(c) for c in range(0x20, 0x7F)) + "\t\n\r"
        return kind, random_text(rng, printable, rng.randint(1, 300)).encode()
    if kind == "form":
        from urllib.parse import urlencode

        fields = {
            "team_id": "T" + random_text(rng, ALNUM.upper(), 9),
            "channel_id": "C" + random_text(rng, ALNUM.upper(), 9),
            "user_id": "U" + random_text(rng, ALNUM.upper(), 9),
            "command": "/sonarqube",
            "text": rng.choice(["", "subscribe my-proj", "list", "unsubscribe a,b", "sub “é✓🚀”"]),
            "response_url": "https://hooks.slack.com/commands/T1/" + random_text(rng, ALNUM, 20),
            "trigger_id": random_text(rng, "0123456789.abcdef", 40),
        }
        return kind, urlencode(fields).encode()
    if kind == "json":
        value = {
            "type": "event_callback",
            "event": {"type": rng.choice(["app_uninstalled", "tokens_revoked"]), "n": rng.randint(0, 10**9)},
            "text": random_text(rng, ALNUM + " " + "".join(NON_ASCII), rng.randint(0, 40)),
        }
        return kind, json.dumps(value, ensure_ascii=rng.random() < 0.5).encode()
    if kind == "utf8":
        alphabet = ALNUM + " =&%" + "".join(NON_ASCII) * 3
        return kind, random_text(rng, alphabet, rng.randint(1, 120)).encode("utf-8")
    if kind == "invalid-utf8":
        raw = bytearray(rng.randbytes(rng.randint(1, 100)))
        raw.insert(rng.randint(0, len(raw)), rng.choice([0xFF, 0xFE, 0xC0, 0x80]))  # never valid UTF-8
        return kind, bytes(raw)
    return kind, b""


OFFSETS = [0, 1, -1, 299, -299, 300, -300, 301, -301, 302, -302]


def make_case(rng: random.Random):
    now = rng.randint(1_500_000_000, 2_000_000_000)
    roll = rng.random()
    if roll < 0.8:
        offset = rng.choice(OFFSETS)
    elif roll < 0.9:
        offset = rng.randint(-2 * MAX_SKEW, 2 * MAX_SKEW)
    else:
        offset = rng.randint(-100_000, 100_000)
    timestamp = str(now + offset)
    secret = random_secret(rng)
    body_kind, body = random_body(rng)
    signature, sign_by = sign(secret, timestamp, body)

    tamper = rng.choices(
        ["none", "body", "secret", "timestamp", "uppercase", "no-prefix", "truncated", "no-timestamp",
         "no-signature"],
        weights=[50, 12, 10, 10, 5, 4, 4, 2, 3],
    )[0]
    if tamper == "body":
        if body:
            i = rng.randrange(len(body))
            body = body[:i] + bytes([body[i] ^ 1]) + body[i + 1:]
        else:
            body = b" "
    elif tamper == "secret":
        signature, sign_by = sign(secret + "x", timestamp, body)
    elif tamper == "timestamp":
        signature, sign_by = sign(secret, str(now + offset + rng.choice([1, -1, 60, 3600])), body)
    elif tamper == "uppercase":
        signature = "v0=" + signature[3:].upper()
    elif tamper == "no-prefix":
        signature = signature[3:]
    elif tamper == "truncated":
        signature = signature[:-1]
    elif tamper == "no-timestamp":
        timestamp = None
    elif tamper == "no-signature":
        signature = None

    valid, verdict_by = judge(secret, timestamp, signature, body, now)
    return {
        "secret": secret,
        "timestamp": timestamp,
        "now": now,
        "body_b64": base64.b64encode(body).decode(),
        "signature": signature,
        "valid": valid,
        "kind": f"{body_kind}/{tamper}",
        "offset": offset if timestamp is not None else None,
        "verdict_by": verdict_by,
        "signature_by": sign_by,
    }


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1200
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 20240531
    self_check()
    rng = random.Random(seed)
    for _ in range(n):
        print(json.dumps(make_case(rng), ensure_ascii=True))
    print(f"slack_sdk {slack_sdk.version.__version__}: {n} cases, seed {seed}", file=sys.stderr)


if __name__ == "__main__":
    main()
