"""Issue 12's leaks, each one: every promised kind is found; real chat lines are left alone."""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

import pytest

from discord_echo.dataset.privacy.scrubber import PrivacyConfig, Scrubber

SAMPLES = Path("/work/shared/samples/dce")
REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "data" / "privacy_corpus.jsonl"

LEAKS = [
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws_secret_access_key = [API_KEY]"),
    ("AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "[API_KEY] [API_KEY]"),
    (
        "alerts: https://discord.com/api/webhooks/1234567890123456789/Zx9_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123-x",
        "alerts: [TOKEN]",
    ),
    ("card 4111.1111.1111.1111 thx", "card [CARD] thx"),
    ("uk 020 7946 0958", "uk [PHONE]"),
    ("de 030 12345678", "de [PHONE]"),
    ("fr 01 42 68 53 00", "fr [PHONE]"),
    ("ru 8 (495) 123-45-67", "ru [PHONE]"),
    ("nl 06 12345678", "nl [PHONE]"),
    ("dns 8.8.4.4 pls", "dns [IP] pls"),
    ("mail user@bücher.de", "mail [EMAIL]"),
]


@pytest.mark.parametrize("region", ["US", "GB", "DE"])
@pytest.mark.parametrize(("text", "expected"), LEAKS)
def test_each_promised_kind_is_found_whatever_the_phone_region(text, expected, region):
    assert Scrubber(PrivacyConfig(phone_region=region)).scrub(text) == expected


def test_a_us_number_is_found_with_region_gb():
    assert Scrubber(PrivacyConfig(phone_region="GB")).scrub("(415) 555-2671") == "[PHONE]"


@pytest.mark.parametrize(
    "text",
    [
        "firmware 1.12.0.30 out",
        "flashed 1.12.0.30 firmware",
        "see section 1.2.3.4",
        "commit da39a3ee5e6b4b0d3255bfef95601890afd80709",
    ],
)
def test_versions_and_hashes_stay(text):
    assert Scrubber(PrivacyConfig()).scrub(text) == text


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="the real DCE samples are not on this machine")
def test_real_messages_are_left_alone_and_scrubbed_fast():
    from discord_echo.ingest.exports import read_exports

    texts = [m.content for m in read_exports([SAMPLES]) if m.content]
    scrubber = Scrubber(PrivacyConfig(url=False))
    start = time.perf_counter()
    changed = [(t, out) for t in texts if (out := scrubber.scrub(t)) != t]
    assert time.perf_counter() - start < 5
    assert len(texts) > 400
    # At most 1 per 10,000 messages may be touched (none of these samples holds a real secret).
    assert len(changed) <= len(texts) / 10_000, changed[:5]


# Round three: each class of false positive measured on 270k real Discord messages (MeshCore and Komodo
# archives, benchmarks/privacy_false_positives.py), in the shape it had there, digits changed. Every one
# of these was changed by the detectors before (some only with phone_region DE).
REAL_FALSE_POSITIVES = [
    "https://github.com/meshcore-dev/MeshCore/issues/1067#issuecomment-3522725917",  # a valid US number
    "https://www.etsy.com/uk/listing/4434269671/minimppt-solar-board",
    "https://www.linkedin.com/feed/update/urn:li:ugcPost:6491894745093197824",  # Luhn-valid, Discover shape
    "[3175.158743] RLB_DBG: Found LR11x0: RADIOLIB_LR11X0",
    "getbalance returned 50.76642938 KMD",
    "never got a successful 81-25-92-25-81 or 25-92-25 trace back",
    "Edge browser (com.microsoft.emmx 143.0.3650.139)",
    "HUSH CSGO Cup 2019 (31.08.2019 20:00 CEST)",
    "the mesh is growing ( 16-12-2025 630 repeaters)",
    '```\n"last_advert": 2069395875, "adv_lat": 0.0\n```',
    "```\nCurrent time : 2035-07-22 18:41:18 (2068735278)\n```",
    "[4175885511, 198107718], [3735533082, 4152000862]",
    "(1 bytes, crc 2768625435)",
    "1,6180339887 4989484820 4586834365 6381177203 0917980576",
    "Rough location 49.8235078, -123.0877448",
    'time_fired: "2025-11-08T19:44:09.557068+00:00"',
    "KiB Mem : 16425972 total, 2054552 free",  # a DE pager number
    "i bought at 1640 1660 and 1700 too",
    "Order with uuid 02744126-bf1b-431b-bbae-f0cf397b1ee6 is not found",
    'change it it "04000000"',
    "Po pomiarach SWR w jednej wyszło 1.647 a w drugiej 1.772",
    "git clone git@github.com:meshcore-dev/MeshCore.git && cd MeshCore",
    "ENV BITCORE_REPO=https://git@github.com/DeckerSU/bitcore-node-komodo",
    "MeshCore Team firmware has been updated to 1.14.0.1.",
    "quick fix to the releases, so it is now at 1.0.29.1",
    "https://github.com/x/Meshcore-Wardrive-Android/releases/tag/1.0.37.1",
    "made subnet mask there 255.255.255.0 but it did nothing",
    '"whitelist": ["::ffff:127.0.0.1","127.0.0.1"]',
]


@pytest.mark.parametrize("region", ["US", "GB", "DE"])
@pytest.mark.parametrize("text", REAL_FALSE_POSITIVES)
def test_real_false_positive_shapes_stay(text, region):
    assert Scrubber(PrivacyConfig(phone_region=region)).scrub(text) == text


# ... and what sits next to those rules and must still go, whatever the region.
REAL_TRUE_POSITIVES = [
    ("whatsapp me https://wa.me/14155552671 pls", "whatsapp me https://wa.me/[PHONE] pls"),
    ("NL phone: +31.104482299 fax-no: +31.102440250", "NL phone: [PHONE] fax-no: [PHONE]"),
    ("0911 587 228", "[PHONE]"),
    ("Ofcom 0300 123 3333", "Ofcom [PHONE]"),
    ("Bel direct 03-808 46 89 voor", "Bel direct [PHONE] voor"),
    ("whatsapp my no +917000576634", "whatsapp my no [PHONE]"),
    ("Author: Dave Nunn <dave@nunn.nu>", "Author: Dave Nunn <[EMAIL]>"),
    ("mail bob@example.com: thanks", "mail [EMAIL]: thanks"),
    ("$ ping 10.10.10.10", "$ ping [IP]"),
    ("MQTT_BROKER=mqtt://user:pass@172.18.0.1:1883", "MQTT_BROKER=mqtt://user:pass@[IP]:1883"),
    ("-addnode=5.9.102.210 -gen", "-addnode=[IP] -gen"),
    ("Addnode=1.2.3.4 or addnode=1.2.3.4:5678", "Addnode=[IP] or addnode=[IP]:5678"),
    ("$ host -tMX google. 4.2.2.1", "$ host -tMX google. [IP]"),
]


@pytest.mark.parametrize("region", ["US", "GB", "DE"])
@pytest.mark.parametrize(("text", "expected"), REAL_TRUE_POSITIVES)
def test_real_true_positives_are_still_found(text, expected, region):
    assert Scrubber(PrivacyConfig(phone_region=region)).scrub(text) == expected


@pytest.mark.parametrize("region", ["US", "GB", "DE", "FR", "IN", "BR"])
def test_corpus_negatives_stay_in_every_region(region):
    records = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    scrubber = Scrubber(PrivacyConfig(phone_region=region))
    changed = [r["text"] for r in records if not r["spans"] and scrubber.scrub(r["text"]) != r["text"]]
    assert not changed


def test_false_positive_benchmark_counts_lines(tmp_path, capsys, monkeypatch):
    # benchmarks/ is not a package: the script is imported by path (registered, for its dataclass).
    spec = importlib.util.spec_from_file_location("fp_benchmark", REPO / "benchmarks" / "privacy_false_positives.py")
    benchmark = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, benchmark)
    spec.loader.exec_module(benchmark)
    chat = tmp_path / "chat.txt"
    chat.write_text("lol same\ncall me at (415) 555-2671\n\nversion 1.14.0.1 is out\n", encoding="utf-8")
    assert benchmark.main(["--corpus", str(chat), "--lines", "--phone-region", "US", "DE"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "region=DE kind=phone changed=1 per_10k=3333.33" in lines
    assert lines[-1] == "messages=3 changed=1 per_10k=3333.33"
