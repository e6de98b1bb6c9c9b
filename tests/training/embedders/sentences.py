"""Short multilingual IT-support sentences shared by the embedder tests (one per language, plus extras)."""

MULTILINGUAL = [
    "My laptop does not connect to the VPN since this morning.",            # en
    "Mein Laptop verbindet sich seit heute Morgen nicht mit dem VPN.",      # de
    "Mon ordinateur portable ne se connecte plus au VPN depuis ce matin.",  # fr
    "Mi portátil no se conecta a la VPN desde esta mañana.",                # es
    "Meu notebook não conecta à VPN desde hoje de manhã.",                  # pt
    "Il mio portatile non si collega alla VPN da stamattina.",              # it
    "Mijn laptop maakt sinds vanochtend geen verbinding met de VPN.",       # nl
    "Mój laptop nie łączy się z VPN od rana.",                              # pl
    "Мой ноутбук не подключается к VPN с утра.",                            # ru
    "今朝からノートパソコンがVPNに接続できません。",                          # ja
    "我的笔记本电脑从今天早上开始无法连接VPN。",                              # zh
    "لا يتصل حاسوبي المحمول بالشبكة الافتراضية منذ الصباح.",                 # ar
    "Dizüstü bilgisayarım bu sabahtan beri VPN'e bağlanmıyor.",             # tr
    "Ο φορητός μου υπολογιστής δεν συνδέεται στο VPN από το πρωί.",         # el
    "मेरा लैपटॉप आज सुबह से वीपीएन से कनेक्ट नहीं हो रहा है।",                 # hi
    "내 노트북이 오늘 아침부터 VPN에 연결되지 않습니다.",                      # ko
    "Min bärbara dator ansluter inte till VPN sedan i morse.",              # sv
    "Můj notebook se od rána nepřipojuje k VPN.",                           # cs
    "Please reset my password for the HR portal.",
    "Bitte setzen Sie mein Passwort für das HR-Portal zurück.",
    "printer jammed",
    "ok",
]

# Normalisation edge cases: runs of spaces, tabs/newlines, control and zero-width characters,
# full-width letters, ligatures, circled digits, half-width katakana, a leading space.
AWKWARD = [
    "Hello   world\t\n  tabs\r\nand CRLF",
    "Ｆｕｌｌｗｉｄｔｈ ＶＰＮ ①② ﬁle",
    "zero\u200bwidth\u00a0nbsp\x07bell\ufeffbom",
    "ｶﾞｷﾞ ﾃｽﾄ",
    " leading space and trailing   ",
    "emoji 😀 and tilde ～ and ▁metaspace",
]
