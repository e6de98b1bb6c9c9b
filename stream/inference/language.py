"""The language of a ticket: what the producer says, else what the cleaned text looks like.

A producer's ``TicketEvent.language`` wins (normalised to its primary BCP-47
subtag: ``de-DE`` → ``de``, ``pt_BR`` → ``pt``). Without one, py3langid
detects it from the cleaned, assembled text, restricted to the configured
languages (``TICKETS_LANGUAGES``) so a short English ticket cannot come out as
Luxembourgish. Below a confidence threshold, or on text too short to tell, the
answer is ``und`` (BCP-47 "undetermined"). Detection is a naive-Bayes model
over byte n-grams: tens of microseconds per ticket, no network, ~4 MB on disk.

The language is kept as sent in events (a producer's ``ja`` stays ``ja``);
only metric labels fold it into the configured set plus ``other`` and ``und``,
so a producer cannot grow the number of Prometheus series.
"""
from __future__ import annotations

import re
import threading
from typing import Iterable, Sequence

UNDETERMINED = "und"
OTHER = "other"
DEFAULT_LANGUAGES = ("en", "de", "fr", "es", "pt", "nl", "it")
# py3langid's normalised probability of the best of the seven default languages:
# "my laptop screen is broken" scores 0.70, one-word tickets ("printer", "vpn")
# 0.15-0.25; below one half the guess is barely better than the runner-up.
MIN_CONFIDENCE = 0.5
# Fewer letters than this carry too few n-grams to tell languages apart
# ("ok", "hi", "vpn down" score near-uniform).
MIN_LETTERS = 10

_PRIMARY = re.compile(r"^[a-z]{2,3}$")
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)


def normalise(tag: str | None) -> str | None:
    """The lower-case primary subtag of a BCP-47 / POSIX tag, or None when it is not one.

    ``de-DE`` → ``de``, ``pt_BR`` → ``pt``, ``EN`` → ``en``, ``und`` → ``und``;
    ``""``, ``"english"`` or ``"x-klingon"`` → None (then the text decides).
    """
    if not isinstance(tag, str) or not tag:  # None, or NaN from an empty table cell
        return None
    primary = tag.strip().replace("_", "-").split("-", 1)[0].lower()
    return primary if _PRIMARY.match(primary) else None


def parse_languages(raw: str) -> tuple[str, ...]:
    """``"en, de,FR"`` → ``("en", "de", "fr")``; raises ValueError on anything that is not a language."""
    languages = []
    for part in raw.split(","):
        if not part.strip():
            continue
        code = normalise(part)
        if code is None or code == UNDETERMINED:
            raise ValueError(f"{part.strip()!r} is not a language code (use ISO 639-1, e.g. en,de,fr)")
        if code not in languages:
            languages.append(code)
    if not languages:
        raise ValueError("at least one language is needed")
    return tuple(languages)


class LanguageDetector:
    """Detects one of ``languages`` in cleaned ticket text, or ``und``; thread-safe once built."""

    def __init__(self, languages: Sequence[str] = DEFAULT_LANGUAGES, min_confidence: float = MIN_CONFIDENCE,
                 min_letters: int = MIN_LETTERS):
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        self.languages = tuple(languages)
        self.min_confidence = min_confidence
        self.min_letters = min_letters
        self._identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        try:
            self._identifier.set_languages(list(self.languages))
        except ValueError as exc:
            raise ValueError(f"TICKETS_LANGUAGES: {exc}; py3langid knows ISO 639-1 codes such as "
                             "en, de, fr, es, pt, nl, it") from None

    def detect_with_confidence(self, text: str) -> tuple[str, float]:
        """(language or ``und``, the detector's probability of its best guess)."""
        if len(_LETTER.findall(text)) < self.min_letters:
            return UNDETERMINED, 0.0
        language, confidence = self._identifier.classify(text)
        if confidence < self.min_confidence:
            return UNDETERMINED, float(confidence)
        return language, float(confidence)

    def detect(self, text: str) -> str:
        return self.detect_with_confidence(text)[0]

    def resolve(self, sent: str | None, text: str) -> str:
        """The producer's language when it sent a usable one, else the detected one."""
        language = normalise(sent)
        if language and language != UNDETERMINED:
            return language
        return self.detect(text)

    def metric_label(self, language: str | None) -> str:
        """A bounded label: a configured language, ``und``, or ``other``."""
        if not language or language == UNDETERMINED:
            return UNDETERMINED
        return language if language in self.languages else OTHER

    def detect_many(self, texts: Iterable[str], sent: Iterable[str | None] | None = None) -> list[str]:
        """Languages of many texts (training, evaluation); ``sent`` values win where usable."""
        texts = list(texts)
        sent = list(sent) if sent is not None else [None] * len(texts)
        return [self.resolve(s, t) for s, t in zip(sent, texts)]


_lock = threading.Lock()
_current: LanguageDetector | None = None


def configure(languages: Sequence[str] = DEFAULT_LANGUAGES) -> LanguageDetector:
    """Build the process's detector once, at start-up (loading the model takes ~0.5 s)."""
    global _current
    with _lock:
        if _current is None or _current.languages != tuple(languages):
            _current = LanguageDetector(languages)
        return _current


def detector() -> LanguageDetector:
    """The configured detector (the default languages when nothing configured one)."""
    return _current or configure()


def ticket_language(ticket, text: str) -> str:
    """The language of ``ticket`` (a TicketEvent) whose cleaned, assembled text is ``text``."""
    return detector().resolve(ticket.language, text)


def metric_label(language: str | None) -> str:
    return detector().metric_label(language)
