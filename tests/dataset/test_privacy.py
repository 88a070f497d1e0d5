"""dataset/privacy/: each kind on its own (tables), the labelled corpus (recall/precision), report, names, config."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, fields
from pathlib import Path

import pytest

from discord_echo.core.errors import ConfigError
from discord_echo.dataset.privacy.scrubber import (
    KINDS,
    PrivacyConfig,
    RedactionReport,
    Scrubber,
    scrub_api_keys,
    scrub_cards,
    scrub_discord_tokens,
    scrub_emails,
    scrub_ips,
    scrub_phones,
    scrub_text,
    scrub_texts,
    scrub_urls,
)

CORPUS = Path(__file__).resolve().parents[1] / "data" / "privacy_corpus.jsonl"
PLACEHOLDERS = {kind: PrivacyConfig().placeholder(kind) for kind in KINDS[:-1]}
CORPUS_KINDS = ("email", "phone", "ip", "credit_card", "discord_token", "api_key")
MIN_RECALL = {"email": 0.99, "phone": 0.99, "discord_token": 0.99, "api_key": 0.99, "credit_card": 0.99, "ip": 0.95}
MIN_PRECISION = 0.98

# --- one kind at a time --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail j.doe@example.com pls", "mail [EMAIL] pls"),
        ("Jamie+discord@Mail.Example.CO.UK.", "[EMAIL]."),
        ("<first_last-99@sub.uni-example.de>", "<[EMAIL]>"),
        ("@everyone and lol@everyone", "@everyone and lol@everyone"),
        ("npm i react@18.2.0", "npm i react@18.2.0"),
    ],
)
def test_emails(text, expected):
    assert scrub_emails(text) == expected


@pytest.mark.parametrize(
    ("text", "region", "expected"),
    [
        ("call (415) 867-5309 now", "US", "call [PHONE] now"),
        ("415.867.5309 or 1-415-867-5309", "US", "[PHONE] or [PHONE]"),
        ("uk +44 20 7946 0958", "US", "uk [PHONE]"),
        ("uk 0044 20 7946 0958", "US", "uk [PHONE]"),
        ("de +49 (0)30 12345678", "US", "de [PHONE]"),
        ("fr +33 6 12 34 56 78", "US", "fr [PHONE]"),
        ("in +91 98765 43210", "US", "in [PHONE]"),
        ("uk 020 7946 0958", "GB", "uk [PHONE]"),
        ("uk 020 7946 0958", "US", "uk [PHONE]"),  # national formats of other countries too (issue 12)
        ("us (415) 555-2671", "GB", "us [PHONE]"),
        ("id 350123456789012345 at 1712345678", "US", "id 350123456789012345 at 1712345678"),
        ("count 1 2 3 4 5 6 7 8 9 10", "US", "count 1 2 3 4 5 6 7 8 9 10"),  # libphonenumber: +1 234-567-8910
        ("on 2024-03-15 14:30, order #112-4567890-1234567", "US", "on 2024-03-15 14:30, order #112-4567890-1234567"),
    ],
)
def test_phones(text, region, expected):
    assert scrub_phones(text, region) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("join 203.0.113.77:25565", "join [IP]:25565"),
        ("router 192.168.1.1.", "router [IP]."),
        ("v6 2001:db8:85a3::8a2e:370:7334 and fe80::1ff:fe23:4567:890a%eth0", "v6 [IP] and [IP]"),
        ("mapped ::ffff:198.51.100.4 ok", "mapped [IP] ok"),
        ("http://[2001:db8::1234]:8080/", "http://[[IP]]:8080/"),
        ("v1.2.3 and 1.2.3 and python 3.11.4", "v1.2.3 and 1.2.3 and python 3.11.4"),
        ("version 10.0.0.1, build 172.16.0.12", "version 10.0.0.1, build 172.16.0.12"),  # version words win
        ("section 1.2.3.4 and 8.8.8.8", "section 1.2.3.4 and [IP]"),  # single-digit quads: resolvers only
        ("localhost 127.0.0.1:8000, bind 0.0.0.0, ::1", "localhost 127.0.0.1:8000, bind 0.0.0.0, ::1"),
        ("10.0.19045.3803 and 1.2.3.4.5 and 256.1.1.1", "10.0.19045.3803 and 1.2.3.4.5 and 256.1.1.1"),
        (
            "at 12:30:45, mac 00:1A:2B:3C:4D:5E, a[1::2], std::vector",
            "at 12:30:45, mac 00:1A:2B:3C:4D:5E, a[1::2], std::vector",
        ),
    ],
)
def test_ips(text, expected):
    assert scrub_ips(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("visa 4111 1111 1111 1111 exp 09/27", "visa [CARD] exp 09/27"),
        ("4111-1111-1111-1111 123", "[CARD] 123"),  # a CVV after the number is not part of it
        ("mc 5555555555554444.", "mc [CARD]."),
        ("amex 3782 822463 10005", "amex [CARD]"),
        ("non-luhn 4111 1111 1111 1112", "non-luhn 4111 1111 1111 1112"),
        ("snowflake 358281692830429189", "snowflake 358281692830429189"),  # Luhn-valid, but 18 digits
        ("snowflake 1187654321098765432", "snowflake 1187654321098765432"),
        ("1712345678123 ms", "1712345678123 ms"),
    ],
)
def test_cards(text, expected):
    assert scrub_cards(text) == expected


TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"client.run('{TOKEN}')", "client.run('[TOKEN]')"),
        ("mfa." + "x" * 84 + " oops", "[TOKEN] oops"),
        ("file.name.ext and a.b.c", "file.name.ext and a.b.c"),
    ],
)
def test_discord_tokens(text, expected):
    assert scrub_discord_tokens(text) == expected


PEM = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nQyNTUxOQAAACBWc2Vj\n"
    "-----END OPENSSH PRIVATE KEY-----"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("k=sk-" + "a1" * 24, "k=[API_KEY]"),
        ("sk-proj-" + "Ab3_-" * 20, "[API_KEY]"),
        ("sk-ant-api03-" + "x9" * 45 + "AA", "[API_KEY]"),
        ("ghp_" + "a" * 36 + " gho_" + "b" * 36 + " ghs_" + "c" * 36, "[API_KEY] [API_KEY] [API_KEY]"),
        ("github_pat_" + "A" * 22 + "_" + "b" * 59, "[API_KEY]"),
        ("AKIAIOSFODNN7EXAMPLE", "[API_KEY]"),
        ("?key=AIzaSyA1234567890abcdefghijklmnopqrstuv&x=1", "?key=[API_KEY]&x=1"),
        ("xoxb-12345678901-123456789012-abcdefghijklmnopqrstuvwx", "[API_KEY]"),
        ("sk_live_" + "a" * 24 + " pk_live_" + "b" * 24 + " rk_live_" + "c" * 24, "[API_KEY] [API_KEY] [API_KEY]"),
        ("hf_" + "Ab" * 17, "[API_KEY]"),
        (
            "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "Bearer [API_KEY]",
        ),
        (f"before\n{PEM}\nafter", "before\n[API_KEY]\nafter"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n(cut off", "[API_KEY]"),  # unterminated: to the end
        (
            "sk-8r boi, sk-ill issue, task-force, hf_hub, AKIA alone",
            "sk-8r boi, sk-ill issue, task-force, hf_hub, AKIA alone",
        ),
    ],
)
def test_api_keys(text, expected):
    assert scrub_api_keys(text) == expected


@pytest.mark.parametrize(
    ("text", "keep_domain", "expected"),
    [
        ("see https://example.com/a/b?c=d.", False, "see [URL]."),
        ("see [docs](https://example.com/a_(b)) ok", False, "see [docs]([URL]) ok"),
        ("<https://user:pw@sub.example.com:8443/x?y=1>", True, "<https://sub.example.com>"),
        ("go to www.example.org/page, then", True, "go to www.example.org, then"),
    ],
)
def test_urls(text, keep_domain, expected):
    assert scrub_urls(text, keep_domain=keep_domain) == expected


# --- order between kinds -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "text", "expected"),
    [
        # url on: a URL holding an email goes as one URL; url off: the email inside still goes.
        (PrivacyConfig(url=True), "https://x.com/reset?email=j.doe@example.com", "[URL]"),
        (PrivacyConfig(), "https://x.com/reset?email=j.doe@example.com", "https://x.com/reset?email=[EMAIL]"),
        # A key inside a URL is counted as a key and removed even with url in domain mode.
        (
            PrivacyConfig(url=True, url_mode="domain"),
            "https://maps.x.com/api?key=AIza" + "Q" * 35,
            "https://maps.x.com",
        ),
        (PrivacyConfig(), "https://maps.x.com/api?key=AIza" + "Q" * 35, "https://maps.x.com/api?key=[API_KEY]"),
        # An IP host survives domain mode only as [IP].
        (PrivacyConfig(url=True, url_mode="domain"), "http://203.0.113.9:8080/admin", "http://[IP]"),
        # Digits in an email are not a phone; a card is not read as phone numbers.
        (PrivacyConfig(), "4158675309@txt.att.net", "[EMAIL]"),
        (PrivacyConfig(), "4111 1111 1111 1111", "[CARD]"),
        # Code blocks and line breaks around a match are untouched.
        (PrivacyConfig(), "```py\nip = '10.1.2.3'\nprint(ip)\n```\n\nok", "```py\nip = '[IP]'\nprint(ip)\n```\n\nok"),
        # Switched-off kinds stay.
        (PrivacyConfig(email=False, phone=False), "a@b.co (415) 867-5309", "a@b.co (415) 867-5309"),
        # Custom placeholders.
        (PrivacyConfig(email_placeholder="<email>"), "x a@b.co", "x <email>"),
    ],
)
def test_order_and_options(config, text, expected):
    assert scrub_text(text, config) == expected


# --- names ---------------------------------------------------------------------------------------


def test_names_get_consistent_pseudonyms_across_texts():
    scrubber = Scrubber(PrivacyConfig(names=True), people=[["Sam", "sam.writes"], "Alex Kim", "x"])
    texts = ["@Sam did you see that", "SAM.WRITES posted again, sam's fault", "alex kim and Sam", "Samantha, Alexa"]
    out = [scrubber.scrub(t) for t in texts]
    assert out == [
        "@Person1 did you see that",
        "Person1 posted again, Person1's fault",
        "Person2 and Person1",
        "Samantha, Alexa",
    ]
    assert scrubber.pseudonyms == {"Sam": "Person1", "sam.writes": "Person1", "Alex Kim": "Person2"}  # "x": too short


def test_names_off_by_default_and_pattern_configurable():
    assert scrub_text("hi Sam", people=["Sam"]) == "hi Sam"
    assert scrub_text("hi Sam", PrivacyConfig(names=True, name_pseudonym="User_{n}"), people=["Sam"]) == "hi User_1"


# --- report --------------------------------------------------------------------------------------


def test_report_counts_add_up_and_merge():
    texts = ["a@b.co and c@d.io", "(415) 867-5309", "nothing here", "ip 203.0.113.7 key AKIAIOSFODNN7EXAMPLE"]
    out, report = scrub_texts(texts)
    assert out[2] == "nothing here"
    assert report.counts == {"email": 2, "phone": 1, "ip": 1, "api_key": 1}
    assert (report.texts, report.changed, report.total) == (4, 3, 5)
    halves = RedactionReport()
    for text in texts:
        single = RedactionReport()
        scrub_text(text, report=single)
        halves.merge(single)
    assert halves.to_dict() == report.to_dict()


@pytest.mark.parametrize(
    ("kind", "text", "masked"),
    [
        ("email", "jamie.smith@example.com", "j***@e***.com"),
        ("phone", "+1 415-867-5367", "+1 ***-***-**67"),
        ("credit_card", "4111 1111 1111 1111", "**** **** **** 1111"),
        ("api_key", "sk-" + "a" * 46 + "9f", "sk-***...***9f"),
        ("ip", "203.0.113.7", "203.***.***.***"),
    ],
)
def test_report_examples_are_masked(kind, text, masked):
    report = RedactionReport()
    scrub_text(text, report=report)
    assert report.examples[kind] == [masked]


def test_report_never_contains_a_value():
    records = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    scrubber = Scrubber(PrivacyConfig(report_examples=20))
    report = scrubber.new_report()
    for record in records:
        scrubber.scrub(record["text"], report)
    dumped = json.dumps(report.to_dict())
    assert report.to_dict()["total"] > 400
    leaked = [s["value"] for r in records for s in r["spans"] if s["value"] in dumped]
    assert leaked == []
    assert all(len(v) <= 20 for v in report.to_dict()["examples"].values())


# --- config --------------------------------------------------------------------------------------


def test_config_defaults_round_trip_and_field_metadata():
    config = PrivacyConfig()
    assert PrivacyConfig(**asdict(config)) == config
    assert (config.email, config.phone, config.url, config.names, config.phone_region) == (
        True,
        True,
        False,
        False,
        "US",
    )
    for f in fields(PrivacyConfig):
        assert f.metadata.get("label") and f.metadata.get("help"), f.name


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"phone_region": "XX"}, r"phone_region='XX': must be a two-letter country code"),
        ({"phone_region": "us"}, r"phone_region='us'"),
        ({"url_mode": "host"}, r"url_mode='host': must be one of placeholder, domain"),
        ({"email_placeholder": ""}, r"email_placeholder='': must be non-empty"),
        ({"phone_placeholder": "[PHONE\n]"}, r"phone_placeholder=.*one line"),
        ({"ip_placeholder": "[IP 1]"}, r"ip_placeholder='\[IP 1\]': must not contain digits or @"),
        ({"url_placeholder": "x@y"}, r"url_placeholder='x@y': must not contain digits or @"),
        ({"name_pseudonym": "Person"}, r"name_pseudonym='Person': must contain \{n\} once"),
        ({"name_pseudonym": "P{n}{x}"}, r"name_pseudonym='P\{n\}\{x\}'"),
        ({"report_examples": -1}, r"report_examples=-1: must be between 0 and 20"),
        ({"report_examples": 21}, r"report_examples=21"),
    ],
)
def test_config_rejects_bad_values(values, match):
    with pytest.raises(ConfigError, match=match):
        PrivacyConfig(**values)


# --- labelled corpus -----------------------------------------------------------------------------


def _score_corpus() -> tuple[dict[str, dict[str, float]], list[str]]:
    records = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    scrubber = Scrubber(PrivacyConfig())
    found = dict.fromkeys(CORPUS_KINDS, 0)
    labelled = dict.fromkeys(CORPUS_KINDS, 0)
    predicted = dict.fromkeys(CORPUS_KINDS, 0)
    correct = dict.fromkeys(CORPUS_KINDS, 0)
    problems = []
    for record in records:
        text, spans = record["text"], record["spans"]
        out = scrubber.scrub(text)
        if not spans and out != text:
            problems.append(f"negative changed: {text!r} -> {out!r}")
        for kind in CORPUS_KINDS:
            mine = [s["value"] for s in spans if s["kind"] == kind]
            placed = out.count(PLACEHOLDERS[kind]) - text.count(PLACEHOLDERS[kind])
            predicted[kind] += placed
            correct[kind] += min(placed, len(mine))
            labelled[kind] += len(mine)
            for value in mine:
                if value not in out and placed > 0:
                    found[kind] += 1
                else:
                    problems.append(f"{kind} missed {value!r}: {out!r}")
            if placed > len(mine):
                problems.append(f"extra {kind}: {text!r} -> {out!r}")
    scores = {
        kind: {
            "n": labelled[kind],
            "recall": found[kind] / labelled[kind],
            "precision": correct[kind] / predicted[kind] if predicted[kind] else 1.0,
        }
        for kind in CORPUS_KINDS
    }
    return scores, problems


def test_corpus_recall_and_precision(capsys):
    scores, problems = _score_corpus()
    lines = [f"{'kind':<14} {'n':>4} {'recall':>7} {'precision':>9}"]
    lines += [f"{k:<14} {s['n']:>4} {s['recall']:>7.3f} {s['precision']:>9.3f}" for k, s in scores.items()]
    with capsys.disabled():
        print("\nprivacy corpus\n" + "\n".join(lines))
    detail = "\n".join(lines + problems[:40])
    for kind, score in scores.items():
        assert score["recall"] >= MIN_RECALL[kind], detail
        assert score["precision"] >= MIN_PRECISION, detail


def test_corpus_is_big_enough_and_labels_are_in_their_texts():
    records = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    counts = {kind: sum(s["kind"] == kind for r in records for s in r["spans"]) for kind in CORPUS_KINDS}
    assert min(counts.values()) >= 60, counts
    assert sum(not r["spans"] for r in records) >= 150
    assert all(s["value"] in r["text"] for r in records for s in r["spans"])


def test_speed_37k_messages_in_a_few_seconds():
    lines = [json.loads(line)["text"] for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    chatter = ["lol same", "ok see u at 9", "did u finish the essay??", "gg", "that's so real 😭", "brb"]
    messages = (chatter * 10 + lines)[:1000] * 37  # ~37k, about 2/3 of them with something to find
    scrubber = Scrubber(PrivacyConfig(url=True))
    start = time.perf_counter()
    for message in messages:
        scrubber.scrub(message)
    assert time.perf_counter() - start < 8.0
