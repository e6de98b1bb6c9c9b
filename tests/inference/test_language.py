"""Ticket language: the producer's tag when usable, else py3langid restricted to the configured set."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from schemas import TicketEvent
from stream.config import ConfigError, Settings
from stream.inference import language
from stream.inference.language import LanguageDetector, normalise, parse_languages

# Real helpdesk phrasing, lower-cased as the cleaner leaves it.
TICKETS = {
    "en": "my laptop does not start since the update yesterday, the screen stays black",
    "de": "mein laptop startet seit dem update gestern nicht mehr, der bildschirm bleibt schwarz",
    "fr": "mon ordinateur portable ne démarre plus depuis la mise à jour d'hier, l'écran reste noir",
    "es": "mi portátil no arranca desde la actualización de ayer, la pantalla se queda en negro",
    "pt": "o meu portátil não liga desde a atualização de ontem, o ecrã fica preto",
    "nl": "mijn laptop start niet meer op sinds de update van gisteren, het scherm blijft zwart",
    "it": "il mio portatile non si avvia più dall'aggiornamento di ieri, lo schermo resta nero",
}


@pytest.fixture(scope="module")
def detector():
    return LanguageDetector()


def _ticket(text, lang=None):
    return TicketEvent(ticket_id="T-1", source="email", messages=[{"role": "requester", "text": text}],
                       language=lang, created_at=datetime.now(timezone.utc))


@pytest.mark.parametrize("expected", sorted(TICKETS))
def test_detects_each_configured_language(detector, expected):
    got, confidence = detector.detect_with_confidence(TICKETS[expected])
    assert got == expected and confidence >= 0.5


@pytest.mark.parametrize("text", ["", "ok", "vpn", "hi thx", "1234 5678 0x800CCC0E", "[MASKED] [MASKED]"])
def test_too_short_to_tell_is_und(detector, text):
    assert detector.detect(text) == "und"


def test_below_the_confidence_threshold_is_und():
    strict = LanguageDetector(min_confidence=0.999999)
    assert strict.detect("password reset error on my account") == "und"
    assert LanguageDetector().detect("password reset error on my account today please") == "en"


def test_detection_is_restricted_to_the_configured_languages():
    only_en_de = LanguageDetector(["en", "de"])
    assert only_en_de.detect(TICKETS["nl"]) in ("en", "de", "und")
    assert LanguageDetector().detect(TICKETS["nl"]) == "nl"


@pytest.mark.parametrize(("tag", "expected"), [
    ("de-DE", "de"), ("pt_BR", "pt"), ("EN", "en"), ("fr-CA", "fr"), (" it ", "it"), ("zh-Hant-TW", "zh"),
    ("und", "und"), ("", None), (None, None), ("english", None), ("x-klingon", None), ("12", None),
])
def test_normalise_keeps_the_primary_subtag(tag, expected):
    assert normalise(tag) == expected


def test_the_producer_s_language_wins_over_detection(detector):
    assert detector.resolve("de-DE", TICKETS["en"]) == "de"
    assert detector.resolve("pt_BR", "vpn") == "pt"  # even where detection could not tell
    assert detector.resolve(None, TICKETS["fr"]) == "fr"
    assert detector.resolve("und", TICKETS["es"]) == "es"      # "undetermined" asks us to detect
    assert detector.resolve("klingon", TICKETS["it"]) == "it"  # not a tag: the text decides


def test_a_language_outside_the_set_is_kept_but_counted_as_other(detector):
    assert detector.resolve("ja-JP", "プリンターが動きません") == "ja"
    assert detector.metric_label("ja") == "other"
    assert detector.metric_label("de") == "de"
    assert detector.metric_label("und") == "und" and detector.metric_label(None) == "und"


def test_ticket_language_uses_the_configured_detector():
    language.configure(("en", "fr"))
    try:
        assert language.detector().languages == ("en", "fr")
        assert language.ticket_language(_ticket("x", "fr-BE"), "x") == "fr"
        assert language.ticket_language(_ticket("x"), TICKETS["fr"]) == "fr"
        assert language.metric_label("de") == "other"
    finally:
        language.configure(language.DEFAULT_LANGUAGES)


def test_setting_is_parsed_normalised_and_validated():
    assert Settings.from_env({}).languages == ("en", "de", "fr", "es", "pt", "nl", "it")
    assert Settings.from_env({"TICKETS_LANGUAGES": "EN, de-AT,de"}).languages == ("en", "de")
    with pytest.raises(ConfigError, match="TICKETS_LANGUAGES"):
        Settings.from_env({"TICKETS_LANGUAGES": "english"})
    with pytest.raises(ConfigError, match="TICKETS_LANGUAGES"):
        Settings.from_env({"TICKETS_LANGUAGES": " , "})
    assert parse_languages("fr") == ("fr",)


def test_a_language_py3langid_does_not_know_fails_at_start_up():
    with pytest.raises(ValueError, match="TICKETS_LANGUAGES"):
        LanguageDetector(["en", "qq"])
