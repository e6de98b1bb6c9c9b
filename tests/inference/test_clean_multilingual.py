"""Multilingual email and chat cleaning on realistic fixtures (tests/inference/emails/).

Each case names what must stay (the requester's problem) and what must go
(quoted history, headers, sign-off names and titles, footers, disclaimers).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from stream.inference.clean import assemble_ticket_text, clean_text, flatten_conversation, is_auto_reply

EMAILS = Path(__file__).resolve().parent / "emails"


def _read(name: str) -> str:
    return (EMAILS / name).read_text(encoding="utf-8")


CASES = [
    ("de_gmail_reply.txt", ["drucker im 2. og", "warteschlange bleibt hängen"],
     ["schrieb", "servicedesk", "modellnummer", "viele grüße", "jonas", "becker"]),
    ("de_outlook_reply.txt", ["konto ist nach drei fehlversuchen gesperrt"],
     ["freundlichen", "sabine", "teamleiterin", "gesendet", "betreff", "portal"]),
    ("de_mobile_original.txt", ["vpn verbindet sich", "fehler 809"],
     ["iphone", "ursprüngliche", "wartung", "wagner"]),
    ("de_outlook.html", ["outlook stürzt beim öffnen von anhängen ab", "<0x800ccc0e>"],
     ["mso", "calibri", "thomas", "leiter einkauf", "ticket 4711", "erhalten"]),
    ("fr_outlook_reply.txt", ["accéder au partage réseau", r"\\srv-fichiers\compta"],
     ["cordialement", "claire", "responsable", "envoyé", "objet", "redémarrer"]),
    ("fr_gmail_mobile.txt", ["bourrage papier"], ["iphone", "a écrit", "modèle"]),
    ("fr_original.txt", ["créer un compte pour la nouvelle stagiaire"],
     ["bien à vous", "marc", "origine", "10 novembre"]),
    ("fr_gmail_reply.html", ["le wi-fi de la salle de réunion b se coupe"],
     ["cordialement", "julien", "chef de projet", "a écrit", "quelle salle", "support@"]),
    ("es_forwarded_chain.txt", ["el escáner de la planta 2 sigue sin enviar correos"],
     ["forwarded", "marta", "mensaje original", "recepción", "smtp 550", "escribió", "configuración"]),
    ("es_gmail_reply.txt", ["no carga la batería"], ["saludos", "lucía", "directora", "escribió", "serie"]),
    ("es_outlook_mobile.txt", ["no puedo iniciar sesión en sap"], ["iphone", "enviado", "asunto", "caché"]),
    ("pt_gmail_reply.txt", ["monitor externo não é reconhecido"],
     ["atenciosamente", "ana souza", "analista", "escreveu", "modelo"]),
    ("pt_outlook_mobile.txt", ["acesso à pasta compartilhada"], ["iphone", "assunto", "nome da pasta"]),
    ("nl_gmail_reply.txt", ["teams crasht", "scherm wil delen"],
     ["vriendelijke", "daan", "projectmanager", "schreef", "versie"]),
    ("nl_outlook_mobile.txt", ["wachtwoord is verlopen"], ["iphone", "verzonden", "onderwerp", "portaal"]),
    ("it_gmail_reply.txt", ["non stampa più a colori"],
     ["cordiali", "giulia", "responsabile", "ha scritto", "modello"]),
    ("it_outlook_original.txt", ["si spegne da solo"], ["iphone", "originale", "oggetto", "bios"]),
    ("en_apple_forward.html", ["shared mailbox for finance stopped receiving mail"],
     ["ipad", "wrote", "delivery has failed", "postmaster"]),
    ("en_gmail_forward.html", ["install visio on my laptop"],
     ["priya", "forwarded", "licensing", "approved by your manager"]),
    ("es_escaped_export.txt", ["la vpn se desconecta cada 10 minutos", r"c:\program files\nvpn\log.txt"],
     ["un saludo", "carlos", "jefe", ",\\n", "\\n\\n"]),
    ("en_plain_angle_brackets.txt",
     ["<server01>", "<error 0x800ccc0e>", "<john.doe@corp.com>",
      '<job name="nightly"><target>\\\\nas01\\backup</target><retention>30</retention></job>'], []),
]


@pytest.mark.parametrize("name, must_keep, must_drop", CASES, ids=[c[0] for c in CASES])
def test_fixture_keeps_the_problem_and_drops_the_rest(name, must_keep, must_drop):
    out = clean_text(_read(name))
    for fragment in must_keep:
        assert fragment in out, f"{fragment!r} lost from {name}: {out!r}"
    for fragment in must_drop:
        assert fragment not in out, f"{fragment!r} kept in {name}: {out!r}"


def test_every_fixture_file_has_a_case():
    covered = {c[0] for c in CASES} | {p.name for p in EMAILS.glob("chat_*.json")}
    assert {p.name for p in EMAILS.iterdir()} == covered


def test_german_chat_transcript_keeps_requester_and_agent_turns_only():
    conv = flatten_conversation(json.loads(_read("chat_de_transcript.json")))
    assert conv.text == ("laptop mein laptop bootet nicht mehr, nur ein schwarzer bildschirm. ja, sie leuchtet orange. "
                         "agent: leuchtet die power-led? | service: hardware | priority: hoch")
    assert conv.auto_replies == 1 and conv.human_messages == 3


def test_french_chat_transcript_drops_bot_system_signature_and_auto_reply():
    conv = flatten_conversation(json.loads(_read("chat_fr_transcript.json")))
    assert conv.text == ("messagerie outlook ne synchronise plus mes mails depuis hier soir. "
                         "agent: avez-vous un message d'erreur ?")
    assert conv.auto_replies == 1


@pytest.mark.parametrize("subject, expected", [
    ("AW: WG: Drucker defekt", "drucker defekt"),
    ("TR: RE: Imprimante", "imprimante"),
    ("RV: Re: Portátil", "portátil"),
    ("SV: Skrivare", "skrivare"),
    ("Antw: Doorst: Wachtwoord", "wachtwoord"),
    ("R: I: Stampante", "stampante"),
    ("Enc: Fwd: RES: Monitor", "monitor"),
    ("Re[2]: Fw: VPN", "vpn"),
    ("RE : Accès partage", "accès partage"),
    ("Reset password", "reset password"),
    ("Request: new laptop", "request: new laptop"),
    ("Re:", "re:"),
], ids=lambda v: v if isinstance(v, str) and ":" in v else None)
def test_subject_prefixes_are_stripped_when_stacked(subject, expected):
    text = assemble_ticket_text({"subject": subject, "messages": [{"role": "requester", "text": "x"}]})
    assert text == f"{expected} x"


@pytest.mark.parametrize("text", [
    "Automatische Antwort: Ich bin bis 10.11. nicht erreichbar.",
    "Abwesenheitsnotiz: Urlaub bis Montag",
    "Réponse automatique : absent jusqu'au 10 novembre",
    "Respuesta automática: fuera de la oficina",
    "Resposta automática: de férias",
    "Automatisch antwoord: afwezig tot maandag",
    "Risposta automatica: fuori sede fino a lunedì",
    "Guten Tag,\nich bin derzeit nicht im Büro und ab Montag wieder erreichbar.",
    "Bonjour,\nceci est une réponse automatique, je suis absent du bureau.",
])
def test_multilingual_auto_replies(text):
    assert is_auto_reply(text)
    conv = flatten_conversation({"messages": [{"role": "requester", "text": text}]})
    assert conv.auto_generated and conv.body == ""


@pytest.mark.parametrize("text", [
    "Mein Abwesenheitsassistent in Outlook funktioniert nicht",
    "la réponse automatique d'outlook ne s'active pas",
    "no puedo configurar la respuesta automática en outlook",
])
def test_tickets_about_auto_replies_are_not_auto_replies(text):
    assert not is_auto_reply(text)


@pytest.mark.parametrize("line", [
    "mit freundlichen grüßen das passwort funktioniert nicht und ich brauche dringend hilfe bitte",
    "cordialement je ne peux pas imprimer depuis la mise à jour",
    "danke für die schnelle hilfe aber der drucker geht wieder nicht",
])
def test_one_line_tickets_that_start_like_a_sign_off_stay_whole(line):
    assert clean_text(line) == line


HISTORY_STARTS = [
    "Am Mo., 3. Nov. 2026 um 09:12 Uhr schrieb Max Muster <max@example.de>:",
    "Am 03.11.2026 um 09:12 schrieb Max Muster\n<max@example.de>:",
    "Le lun. 3 nov. 2026 à 09:12, Marie Durand <marie@example.fr> a écrit :",
    "El lun, 3 nov 2026 a las 9:12, Ana Gómez (<ana@example.es>) escribió:",
    "Em seg., 3 de nov. de 2026 às 09:12, Rui Costa <rui@example.pt> escreveu:",
    "Op ma 3 nov. 2026 om 09:12 schreef Sanne Jansen <sanne@example.nl>:",
    "Il giorno lun 3 nov 2026 alle ore 09:12 Marco Bianchi <marco@example.it> ha scritto:",
    "On Mon, 3 Nov 2026 at 09:12, IT Helpdesk <helpdesk@example.com>\nwrote:",
    "---------- Weitergeleitete Nachricht ---------",
    "---------- Forwarded message ---------",
    "-----Messaggio originale-----",
    "-----Mensagem original-----",
    "-----Mensaje original-----",
    "-------- Message transféré --------",
    "-----Oorspronkelijk bericht-----",
    "Begin forwarded message:",
    "Anfang der weitergeleiteten Nachricht:",
    "Inizio messaggio inoltrato:",
    "________________________________",
    "Von: Max Muster\nGesendet: Montag, 3. November 2026 09:12",
    "De : Marie Durand\nEnvoyé : lundi 3 novembre 2026 09:12",
    "De: Ana Gómez\nEnviado el: lunes, 3 de noviembre de 2026 9:12",
    "De: Rui Costa\nEnviada em: segunda-feira, 3 de novembro de 2026 09:12",
    "Van: Sanne Jansen\nVerzonden: maandag 3 november 2026 09:12",
    "Da: Marco Bianchi\nInviato: lunedì 3 novembre 2026 09:12",
]


@pytest.mark.parametrize("start", HISTORY_STARTS, ids=lambda s: s.split("\n")[0][:40])
def test_reply_and_forward_headers_cut_the_history(start):
    raw = f"The scanner in room 4 is offline.\n\n{start}\nOld history line about invoices\nMore old history\n"
    assert clean_text(raw) == "the scanner in room 4 is offline."


@pytest.mark.parametrize("footer", [
    "Diese E-Mail enthält vertrauliche Informationen. Wenn Sie nicht der richtige Adressat sind, löschen Sie sie.",
    "Ce message et toutes les pièces jointes sont confidentiels.",
    "Este mensaje y sus archivos adjuntos son confidenciales.",
    "Esta mensagem e seus anexos são confidenciais.",
    "Dit e-mailbericht is uitsluitend bestemd voor de geadresseerde.",
    "Questo messaggio e i suoi allegati sono riservati.",
    "Gesendet von meinem Samsung Galaxy",
    "Envoyé depuis mon smartphone",
    "Obtener Outlook para Android",
    "Verstuurd vanaf mijn iPad",
    "Inviato dal mio dispositivo Android",
])
def test_disclaimers_and_mobile_footers_are_cut(footer):
    assert clean_text(f"Der Scanner ist offline.\n\n{footer}\nMore footer") == "der scanner ist offline."
