"""Multilingual phrase tables for email and chat cleaning (en, de, fr, es, pt, nl, it).

Data only: :mod:`stream.inference.email_structure` turns these phrases into
anchored, case-insensitive line patterns (``re.escape`` each phrase, any run of
spaces matches any whitespace). All languages are applied together, so no
language detection is needed. quotequail already knows most "On … wrote:" and
"-----Original Message-----" forms; the entries here add what it lacks (Italian
reply lines, French/Italian/Portuguese Outlook separators, header blocks,
sign-offs, footers, disclaimers, auto-replies, subject prefixes).

Add a phrase here, add a fixture that shows it, and bump PREPROCESSING_VERSION.
"""
from __future__ import annotations

# A line that *is* a sign-off, optionally followed on the same line by a name
# ("Mit freundlichen Grüßen, Anna Schmidt"). From that line on, the rest is
# signature. Never applied to the first line of a message.
SIGN_OFFS: tuple[str, ...] = (
    # en
    "best regards", "kind regards", "warm regards", "warmest regards", "regards", "cheers",
    "sincerely", "yours sincerely",
    # de
    "mit freundlichen grüßen", "mit freundlichen grüssen", "freundliche grüße", "freundliche grüsse",
    "beste grüße", "beste grüsse", "viele grüße", "viele grüsse", "liebe grüße", "liebe grüsse",
    "herzliche grüße", "herzliche grüsse", "schöne grüße", "schöne grüsse", "grüße", "grüsse", "gruß",
    "gruss", "mfg",
    # fr
    "cordialement", "bien cordialement", "très cordialement", "bien à vous", "salutations",
    "meilleures salutations", "sincères salutations", "bonne journée",
    # es
    "saludos", "saludos cordiales", "un saludo", "un cordial saludo", "atentamente",
    # pt
    "atenciosamente", "cumprimentos", "melhores cumprimentos", "com os melhores cumprimentos",
    "abraços", "abraço",
    # nl
    "met vriendelijke groet", "met vriendelijke groeten", "vriendelijke groet", "vriendelijke groeten",
    "hartelijke groet", "hartelijke groeten", "groeten", "groet", "mvg",
    # it
    "cordiali saluti", "distinti saluti", "saluti", "un saluto", "un cordiale saluto",
)

# Thanks on a line of their own work like a sign-off, but carry fewer words after
# them ("Thanks, Bob"), so "Danke, geht jetzt nicht mehr" is not taken for one.
THANKS: tuple[str, ...] = (
    "thanks", "thank you", "many thanks", "thanks in advance",
    "danke", "vielen dank", "danke im voraus", "merci", "merci d'avance", "merci par avance", "merci beaucoup",
    "gracias", "muchas gracias", "gracias de antemano", "obrigado", "obrigada", "muito obrigado",
    "muito obrigada", "bedankt", "alvast bedankt", "grazie", "grazie mille", "grazie in anticipo",
)

# How many words a sign-off (thanks) line may carry after the phrase: a name.
SIGN_OFF_MAX_TRAILING_WORDS = 3
THANKS_MAX_TRAILING_WORDS = 2

# Footers that mail apps append; the line starts with one of these.
MOBILE_FOOTERS: tuple[str, ...] = (
    "sent from my", "sent from mail for", "sent from outlook", "get outlook for",
    "von meinem", "gesendet von meinem", "gesendet von outlook", "outlook für",
    "envoyé de mon", "envoyé depuis mon", "obtenir outlook pour", "téléchargez outlook pour",
    "enviado desde mi", "enviado desde outlook", "obtener outlook para",
    "enviado do meu", "enviado de meu", "enviado do outlook", "obter o outlook para", "baixar o outlook para",
    "verzonden vanaf mijn", "verstuurd vanaf mijn", "verzonden met", "outlook voor",
    "inviato da iphone", "inviato da ipad", "inviato dal mio", "inviato da outlook", "scarica outlook per",
)

# Legal disclaimers; the line starts with one of these.
DISCLAIMERS: tuple[str, ...] = (
    "this email and any attachments", "this e-mail and any attachments", "this message and any attachments",
    "this communication and any attachments", "this email and any files", "this e-mail and any files",
    "this message and any files", "confidentiality notice", "disclaimer:", "if you are not the intended recipient",
    "diese e-mail enthält vertrauliche", "diese nachricht enthält vertrauliche", "diese e-mail ist vertraulich",
    "diese nachricht ist vertraulich", "wenn sie nicht der richtige adressat sind",
    "sollten sie nicht der richtige adressat sein", "vertraulichkeitshinweis", "haftungsausschluss:",
    "ce message et toutes les pièces jointes", "ce message et les pièces jointes", "ce message est confidentiel",
    "ce courriel et", "si vous n'êtes pas le destinataire", "avis de confidentialité", "avertissement :",
    "este mensaje y sus archivos adjuntos", "este mensaje es confidencial", "este correo electrónico y",
    "este correo electrónico es confidencial", "si usted no es el destinatario", "si no es usted el destinatario",
    "aviso de confidencialidad", "aviso legal:",
    "esta mensagem e seus anexos", "esta mensagem é confidencial", "esta mensagem pode conter",
    "se você não for o destinatário", "se não for o destinatário", "aviso de confidencialidade",
    "dit e-mailbericht is uitsluitend bestemd", "dit bericht is uitsluitend bestemd", "dit bericht is vertrouwelijk",
    "dit e-mailbericht is vertrouwelijk", "als u niet de geadresseerde bent", "indien u niet de geadresseerde bent",
    "questo messaggio e i suoi allegati", "questo messaggio è riservato", "le informazioni contenute in questa",
    "se avete ricevuto questo messaggio per errore", "se non siete il destinatario", "se non sei il destinatario",
    "avviso di riservatezza",
)

# Separators above forwarded or original messages ("-----Message d'origine-----",
# "---------- Weitergeleitete Nachricht ---------", "Inizio messaggio inoltrato:").
# Matched as the whole line, with optional dashes/underscores/equals around and a colon.
FORWARD_SEPARATORS: tuple[str, ...] = (
    "original message", "forwarded message", "begin forwarded message",
    "ursprüngliche nachricht", "originalnachricht", "weitergeleitete nachricht",
    "anfang der weitergeleiteten nachricht", "anfang der weitergeleiteten e-mail",
    "message d'origine", "message original", "message transféré", "début du message réexpédié",
    "début du message transféré",
    "mensaje original", "mensaje reenviado", "inicio del mensaje reenviado",
    "mensagem original", "mensagem encaminhada", "início da mensagem reencaminhada",
    "começo da mensagem encaminhada", "mensagem reencaminhada",
    "oorspronkelijk bericht", "origineel bericht", "doorgestuurd bericht", "begin doorgestuurd bericht",
    "messaggio originale", "messaggio inoltrato", "inizio messaggio inoltrato",
)

# Reply lines that quotequail does not know, as (start words, end words): the line
# starts with the first and ends with the second ("Il giorno … ha scritto:").
REPLY_LINES: tuple[tuple[str, str], ...] = (
    ("on", "wrote:"),
    ("am", "schrieb:"),
    ("le", "a écrit:"),
    ("le", "a écrit :"),
    ("el", "escribió:"),
    ("em", "escreveu:"),
    ("op", "geschreven:"),
    ("il", "ha scritto:"),
    ("il giorno", "ha scritto:"),
)

# An Outlook header block of a replied or forwarded message: a "From" line followed
# within a few lines by a "Sent"/"Subject" line, in any of these languages.
HEADER_FROM: tuple[str, ...] = ("from", "von", "de", "van", "da")
HEADER_FOLLOW: tuple[str, ...] = (
    "sent", "date", "subject",
    "gesendet", "datum", "betreff",
    "envoyé", "date d'envoi", "objet",
    "enviado el", "enviado", "fecha", "asunto",
    "enviada em", "enviado em", "data", "assunto",
    "verzonden", "onderwerp",
    "inviato", "oggetto",
)

# Auto-replies (dropped like system messages). START: the message or subject starts
# with the phrase. ANYWHERE: the phrase may appear anywhere in the message.
AUTO_REPLY_START: tuple[str, ...] = (
    "automatic reply", "auto reply", "auto-reply", "autoreply", "out of office", "out of the office",
    "automatische antwort", "abwesenheitsnotiz", "abwesenheit:", "nicht im büro",
    "réponse automatique", "absence du bureau", "message d'absence", "absent du bureau",
    "respuesta automática", "fuera de la oficina",
    "resposta automática", "fora do escritório", "ausente do escritório",
    "automatisch antwoord", "afwezig:", "niet op kantoor",
    "risposta automatica", "fuori sede", "fuori ufficio",
)
AUTO_REPLY_ANYWHERE: tuple[str, ...] = (
    "this is an automated message", "this is an automated notification", "this is an automated email",
    "this is an automated e-mail", "this is an automatic reply", "this is an automated response",
    "please do not reply to this email", "please do not reply to this e-mail",
    "please do not reply to this message", "do not reply to this email", "do not reply to this e-mail",
    "do not reply to this message", "i am out of the office", "i am currently out of the office",
    "i am out of office", "i am currently out of office",
    "dies ist eine automatische antwort", "dies ist eine automatisch generierte", "ich bin derzeit nicht im büro",
    "ich bin nicht im büro", "ceci est une réponse automatique", "ceci est un message automatique",
    "je suis absent du bureau", "je suis actuellement absent", "esta es una respuesta automática",
    "este es un mensaje automático", "estoy fuera de la oficina", "esta é uma resposta automática",
    "esta é uma mensagem automática", "estou fora do escritório", "dit is een automatisch antwoord",
    "dit is een automatisch gegenereerd bericht", "questa è una risposta automatica",
    "questo è un messaggio automatico", "sono fuori ufficio", "sono assente dall'ufficio",
)

# Reply/forward subject prefixes, removed (stacked: "AW: WG: RE: …") from subjects.
# Single letters ("R:", "I:") are Italian Outlook's and match only in upper case.
SUBJECT_PREFIXES: tuple[str, ...] = (
    "re", "fw", "fwd", "aw", "wg", "tr", "rv", "sv", "vs", "antw", "doorst", "enc", "res", "rif",
)
SUBJECT_PREFIXES_UPPER: tuple[str, ...] = ("R", "I")
