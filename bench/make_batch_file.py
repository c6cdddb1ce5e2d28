#!/usr/bin/env python
"""Generate a realistic Gemini Developer API batch input file (JSONL) for benchmarks and tests.

Each line is ``{"key": "req-000000123", "request": {...GenerateContentRequest...}}``, UTF-8, ending in
``"\\n"``. The mix of requests follows /work/shared/reference/scan-performance.md (by line count):

    58.5%  short prompts (English, Spanish, French, German, Portuguese, Russian, Chinese, Japanese,
           Korean, Arabic, code snippets, JSON snippets)
    25.0%  a short prompt with one of 3 shared system instructions (~2, ~5 and ~9 KB)
     8.0%  one shared ~20 KB document followed by a different question (two parts, one user content)
     6.0%  multi-turn (user / model / user)
     2.0%  a unique 50-200 KB document plus an instruction
     0.5%  an inline base64 image (valid PNG or baseline JPEG, 300x200 to 2000x1500, 50-500 KB)

Across all of them: ~65% carry a ``generationConfig`` (maxOutputTokens, sometimes written as a
string, temperature, topP/topK, thinkingConfig with thinkingBudget or thinkingLevel, JSON response
schema, seed, stop sequences), ~12% spell field names in snake_case (all of them, or a mix),
~1% carry tools (functionDeclarations or googleSearch), ~2% safetySettings. Every line is a
request the API accepts.

Text is built from seeded vocabularies (Zipf-weighted words in several scripts, numbers, dates,
prices, e-mail addresses, order ids) assembled into pools of sentences, so texts vary the way real
prompts do, and the output is byte-for-byte the same for the same seed and size.

Speed: the building blocks (sentences, code, JSON snippets, images) are made and JSON-escaped once;
each line is then assembled from pre-escaped pieces (``orjson.Fragment``) and written in 16 MiB
chunks, well above 100 MB/s on one core.

Usage::

    python bench/make_batch_file.py /work/bench-data/batch-2gb.jsonl --size-gb 2.0 --seed 1
    python bench/make_batch_file.py /tmp/small.jsonl --size-mb 30
    python bench/make_batch_file.py /tmp/short.jsonl --size-gb 2.0 --lines-only-short

Sizes are decimal (1 GB = 10**9 bytes, 1 MB = 10**6 bytes); the file never exceeds the size asked
for and stops at the last whole line that fits. Lines are generated in order from the seed, so a
smaller file is a prefix of a larger one made with the same seed and mode.
"""

from __future__ import annotations

import argparse
import base64
import bisect
import itertools
import math
import random
import re
import struct
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

Fragment = orjson.Fragment


def _words(text: str) -> list[str]:
    return text.split()


# --------------------------------------------------------------------------------------------------
# Vocabularies. Word lists are ordered roughly by frequency; a Zipf weight is given by rank.
# --------------------------------------------------------------------------------------------------

ENGLISH = _words("""
the of and to a in is that for it as was with be by on not he I this are or his from at which but
have an they you were her she there one all we their been has more if will would who so no when can
said what out up them into some time only could new other two about then do first any my now may
such like our over man me even most made after also did many before must through back years where
much your way well down should because each just those people how too little state good very make
world still own see men work long get here between both life being under never day same another
know while last might us great old year off come since against go came right used take three
please thanks hello need help want find check send write read show tell give list explain compare
model data request response customer order invoice product price payment account service support
email report summary review analysis question answer document contract policy section table chart
value result error issue bug feature release version user team project meeting schedule deadline
budget cost revenue market sales growth risk quality delivery shipping address phone number date
city country company system network server database query function code test file image text
language translation sentiment category label score priority status update refund return warranty
battery screen laptop phone camera software hardware cloud storage backup security password login
patient doctor hospital treatment symptom medicine school student teacher course lesson exam grade
article paragraph sentence word title headline author reader story chapter book page note comment
weather travel flight hotel booking ticket train station airport restaurant menu recipe kitchen
energy climate water food health research study experiment sample survey trend forecast estimate
price increase decrease average total monthly weekly daily annual quarter percent rate limit
important simple clear short detailed formal friendly polite professional technical legal
quickly carefully exactly probably usually often always sometimes never already again almost
because although however therefore instead unless whether while during within without across
""")

FRENCH = _words("""
le la les de des du un une et est en que qui dans pour pas sur au avec ce il elle nous vous ils
sont été être avoir fait très plus mais ou donc où comme tout tous bien même aussi après avant
déjà français données modèle requête réponse client commande facture prix paiement problème
résumé système réseau société équipe réunion délai coût année première dernière à ça ôter
fenêtre hôpital élève château forêt naïf Noël garçon reçu leçon français déçu créer préférer
""")

SPANISH = _words("""
el la los las de del y que en un una es por con para no se su al lo como más pero sus le ya o
este sí porque esta entre cuando muy sin sobre también me hasta hay donde quien desde todo nos
durante todos uno les ni contra otros ese eso ante ellos esto mí antes algunos qué unos yo otro
año niño información análisis pedido factura cliente página técnico función código está según
además mañana señor español corazón canción pequeño compañía teléfono dirección rápido fácil
""")

GERMAN = _words("""
der die das und ist nicht ein eine zu den von mit sich des auf für im dem auch es an werden aus er
hat dass sie nach wird bei einer um am sind noch wie einem über einen so zum war haben nur oder
aber vor zur bis mehr durch man sein wurde sei kann gegen vom können schon wenn seine ihre dann
unter wir soll ich diese dieser wieder keine Straße Größe Übersicht Bestellung Rechnung Kunde
Daten Modell Anfrage Antwort Prüfung Lösung müssen würde Äpfel Öl Frühstück Gebühr Mängel
""")

PORTUGUESE = _words("""
o a os as de do da em um uma é que não para com por mais como mas foi ao ele das tem à seu sua ou
ser quando muito há nos já está eu também só pelo pela até isso ela entre era depois sem mesmo
informação ação pedido cliente preço pagamento relatório análise você então são coração órgão
""")

RUSSIAN = _words("""
и в не на я быть он с что а по это она этот к но они мы как из у который то за свой весь год от
так о для ты же все тот мочь вы человек такой его сказать только или ещё бы себя один уже до
время если сам когда другой вот говорить наш мой знать стать при чтобы дело жизнь кто первый
очень два день её новый рука даже во со раз где там под можно какой после их работа без самый
потом надо хотеть ли слово идти большой должен место данные модель запрос ответ клиент заказ
счёт цена оплата проблема отчёт система сеть компания команда встреча срок стоимость анализ
документ перевод пожалуйста спасибо результат ошибка файл сервер пользователь объём качество
""")

KOREAN = _words("""
데이터 모델 요청 응답 고객 주문 가격 문제 보고서 시스템 그리고 하지만 있습니다 합니다 입니다 에서
으로 우리 사용자 서버 파일 분석 결과 오늘 내일 회사 제품 서비스 확인 부탁 감사 정보 내용 요약
번역 질문 답변 시간 날짜 주소 전화 이메일 결제 배송 환불 교환 품질 개선 필요 가능 중요
""")

ARABIC = _words("""
في من على إلى أن هذا هذه التي الذي مع كان عن ما لا هو هي كل بين بعد قبل عند حتى لقد ذلك
البيانات النموذج الطلب الرد العميل الفاتورة السعر الدفع المشكلة التقرير النظام الشركة الفريق
شكرا من فضلك الملخص الترجمة السؤال الجواب الوقت التاريخ العنوان
""")

# Common Chinese characters (frequency order); words are 1-3 of them.
HANZI = (
    "的一是不了在人有我他这个们中来上大为和国地到以说时要就出会可也你对生能而子那得于着下自之年过发后作"
    "里用道行所然家种事成方多经么去法学如都同现当没动面起看定天分还进好小部其些主样理心她本前开但因只从"
    "想实日军者意无力它与长把机十民第公此已工使情明性知全三又关点正业外将两高间由问很最重并物手应战向头"
    "文体政美相见被利什二等产或新己制身果加西斯月话合回特代内信表化老给世位次度门任常先海通教儿原东声提"
    "立及比员解水名真论处走义各入几口认条平系气题活尔更别打女变四神总何电数安少报才结反受目太量再感建务"
    "做接必场件计管期市直德资命山金指克许统区保至队形社便空决治展马科司五基眼书非则听白却界达光放强即像"
    "难且权思王象完设式色路记南品住告类求据程北边死张该交规万取拉格望觉术领共确传师观清今切院让识候带导"
    "争运笑飞风步改收根干造言联持组每济车亲极林服快办议往元英士证近失转夫令准布始怎呢存未远叫台单影具罗"
    "字爱击流备兵连调深商算质团集百需价花党华城石级整府离况亚请技际约示复病息究线似官火断精满支视消越器"
    "容照须九增研写称企八功吗包片史委乎查轻易早曾除农找装广显吧阿李标谈吃图念六引历首医局突专费号尽另周"
)
HIRAGANA_PARTICLES = _words("の は を に が で と も へ から まで より です ます でした ました して ください ません")
KATAKANA_WORDS = _words(
    "データ モデル リクエスト サーバー ファイル テスト ユーザー システム レポート サービス アカウント "
    "パスワード メール ネットワーク ダウンロード アップデート エラー コード プログラム コンピューター"
)
EMOJI = ["🙂", "👍", "🚀", "✅", "❌", "📦", "💡", "🔥", "😅", "🎉", "📈", "🤔", "☕", "🌍"]
FIRST_NAMES = [
    "Alice",
    "Bob",
    "Priya",
    "Mohammed",
    "Wei",
    "Olga",
    "José",
    "Zoë",
    "Björn",
    "Aiko",
    "Chinedu",
    "François",
    "Siobhán",
    "Lukas",
    "Fatima",
    "Dmitri",
    "Ana",
    "Kwame",
    "Mei",
    "Rahul",
    "Søren",
]
LAST_NAMES = [
    "Smith",
    "Müller",
    "García",
    "Nguyen",
    "Kowalski",
    "Okafor",
    "Tanaka",
    "Ivanov",
    "Dubois",
    "Rossi",
    "Silva",
    "Kim",
    "Patel",
    "O'Brien",
    "Johansson",
    "Haddad",
    "Chen",
    "Novák",
]
COMPANIES = [
    "Acme Corp",
    "Globex",
    "Initech",
    "Umbrella GmbH",
    "Stark Industries",
    "Zenith Ltd",
    "Nordwind AG",
    "Sakura KK",
    "Rio Verde S.A.",
    "Polar Systems",
]

INSTRUCTIONS: dict[str, list[str]] = {
    "en": [
        "Summarize the following text in three bullet points:",
        "Translate the following into Spanish:",
        "Classify the sentiment of this customer review as positive, negative or neutral:",
        "Extract all product names and prices from the text below.",
        "Write a short, polite reply to this email:",
        "Answer the question using only the information given.",
        "Rewrite this paragraph in plain English:",
        "Generate five title ideas for this article:",
        "Explain this to a ten-year-old:",
        "Find any factual errors in the following:",
        "What is the main argument of this passage?",
        "Turn these notes into a formal meeting summary:",
        "Tag this support ticket with one category (billing, shipping, technical, other):",
        "Write a product description based on these details:",
        "List the action items and their owners:",
        "Is this message spam? Answer yes or no, then explain briefly.",
    ],
    "es": [
        "Resume el siguiente texto:",
        "Traduce al inglés:",
        "Clasifica este comentario:",
        "Responde a la pregunta con la información dada:",
    ],
    "fr": [
        "Résume le texte suivant :",
        "Traduis en anglais :",
        "Corrige les fautes dans ce texte :",
        "Réponds à la question suivante :",
    ],
    "de": [
        "Fasse den folgenden Text zusammen:",
        "Übersetze ins Englische:",
        "Beantworte die Frage anhand des Textes:",
        "Schreibe eine höfliche Antwort auf diese E-Mail:",
    ],
    "pt": ["Resuma o texto a seguir:", "Traduza para o inglês:", "Classifique o sentimento desta avaliação:"],
    "ru": [
        "Кратко перескажи следующий текст:",
        "Переведи на английский:",
        "Ответь на вопрос по тексту:",
        "Определи тональность отзыва:",
    ],
    "zh": ["请总结以下内容：", "请翻译成英文：", "请回答下面的问题：", "请判断这条评论的情感倾向："],
    "ja": ["次の文章を要約してください：", "英語に翻訳してください：", "次の質問に答えてください："],
    "ko": ["다음 내용을 요약해 주세요:", "영어로 번역해 주세요:", "다음 질문에 답해 주세요:"],
    "ar": ["لخص النص التالي:", "ترجم إلى الإنجليزية:", "أجب عن السؤال التالي:"],
    "code": [
        "Review this code and suggest improvements:",
        "Explain what this code does:",
        "Find the bug in this function:",
        "Add type hints and docstrings:",
        "Write unit tests for this:",
        "Convert this to TypeScript:",
        "Why is this slow? Suggest a faster version:",
    ],
    "json": [
        "Extract the customer name and the order total from this JSON:",
        "Validate this JSON and list any problems:",
        "Convert this JSON to a CSV table:",
        "Summarize this API response for a non-technical reader:",
        "Generate a JSON schema that matches this example:",
    ],
}

IMAGE_QUESTIONS = [
    "Describe this image in one paragraph.",
    "What text appears in this screenshot?",
    "Is there any visible damage on the product in this photo? Answer yes or no.",
    "List every object you can see.",
    "Write alt text for this image.",
    "Extract the table in this image as Markdown.",
    "What is the total on this receipt?",
    "Classify this image: document, photo, chart, screenshot or other.",
    "この画像を説明してください。",
    "Опиши это изображение.",
    "请描述这张图片。",
]

CODE_TEMPLATES: dict[str, list[str]] = {
    "python": [
        'def @f@(@a@: list[int], @b@: int = 10) -> float:\n    """@doc@"""\n    @v@ = [x * @b@ for x in @a@ if x > 0]\n'
        '    if not @v@:\n        raise ValueError("no positive @a@ in input")\n    return sum(@v@) / len(@v@)\n',
        'import re\n\n\nclass @C@:\n    pattern = re.compile(r"^(\\d{4})-(\\d{2})-(\\d{2})\\s+@f@")\n\n'
        "    def __init__(self, @a@):\n        self.@a@ = @a@\n        self._cache = {}\n\n"
        "    def @f@(self, @b@):\n        for line in @b@.splitlines():\n            if m := self.pattern.match(line):\n"
        "                yield m.group(1), line.strip()\n",
        'async def @f@(session, @a@):\n    async with session.get(f"/api/@v@/{@a@}") as resp:\n'
        '        resp.raise_for_status()\n        data = await resp.json()\n    return {k: v for k, v in data.items() if k != "@b@"}\n',
    ],
    "javascript": [
        "function @f@(@a@, @b@) {\n  // @doc@\n  const @v@ = @a@.filter((x) => x.@b@ !== undefined);\n"
        "  return @v@.reduce((acc, x) => acc + x.@b@, 0);\n}\n\nmodule.exports = { @f@ };\n",
        "export async function @f@(@a@) {\n  const res = await fetch(`/api/@v@?id=${@a@}`);\n"
        '  if (!res.ok) throw new Error("@doc@");\n  return (await res.json()).@b@ ?? [];\n}\n',
    ],
    "sql": [
        "SELECT c.@a@, COUNT(o.id) AS @v@, SUM(o.total) AS @b@\nFROM customers c\n"
        "JOIN orders o ON o.customer_id = c.id\nWHERE o.created_at >= '2026-01-01'\n"
        "GROUP BY c.@a@\nHAVING COUNT(o.id) > 3\nORDER BY @b@ DESC\nLIMIT 20;\n",
    ],
    "bash": [
        '#!/usr/bin/env bash\nset -euo pipefail\nfor f in "$@"; do\n  @v@=$(wc -l < "$f")\n'
        '  echo "$f: $@v@ lines" >> @a@.log\ndone\ngrep -c "@b@" @a@.log || true\n',
    ],
    "go": [
        "func @F@(@a@ []string, @b@ int) (map[string]int, error) {\n\t// @doc@\n\t@v@ := make(map[string]int)\n"
        '\tfor i, s := range @a@ {\n\t\tif i >= @b@ {\n\t\t\treturn nil, fmt.Errorf("too many: %d", i)\n\t\t}\n'
        "\t\t@v@[s]++\n\t}\n\treturn @v@, nil\n}\n",
    ],
}

MAX_OUTPUT_TOKENS = (64, 128, 256, 512, 512, 1024, 1024, 2048, 4096, 8192, 16384, 65536)
TEMPERATURES = (0, 0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.7, 1, 1.0, 1.2)
THINKING_BUDGETS = (0, 128, 512, 1024, 2048, 4096, 8192, 24576, -1)
THINKING_LEVELS = ("LOW", "MEDIUM", "HIGH")
HARM_CATEGORIES = (
    "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
)
HARM_THRESHOLDS = ("BLOCK_NONE", "BLOCK_ONLY_HIGH", "BLOCK_MEDIUM_AND_ABOVE", "BLOCK_LOW_AND_ABOVE", "OFF")

# Request fields whose names differ between camelCase and snake_case (proto3 JSON accepts both).
CAMEL_FIELDS = (
    "systemInstruction",
    "generationConfig",
    "maxOutputTokens",
    "topP",
    "topK",
    "thinkingConfig",
    "thinkingBudget",
    "thinkingLevel",
    "includeThoughts",
    "responseMimeType",
    "responseSchema",
    "stopSequences",
    "inlineData",
    "mimeType",
    "functionDeclarations",
    "googleSearch",
    "safetySettings",
    "toolConfig",
    "functionCallingConfig",
    "mediaResolution",
)
CAMEL = {name: name for name in CAMEL_FIELDS}
SNAKE = {name: re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name) for name in CAMEL_FIELDS}

# Category shares by line (cumulative thresholds are built from these).
MIX: tuple[tuple[str, float], ...] = (
    ("short", 0.585),
    ("system", 0.25),
    ("shared_doc", 0.08),
    ("multi_turn", 0.06),
    ("unique_doc", 0.02),
    ("image", 0.005),
)

# Languages of short prompts: (language, share).
PROMPT_LANGUAGES: tuple[tuple[str, float], ...] = (
    ("en", 52),
    ("es", 5),
    ("fr", 4),
    ("de", 4),
    ("pt", 2),
    ("ru", 7),
    ("zh", 7),
    ("ja", 3),
    ("ko", 2),
    ("ar", 1),
    ("code", 8),
    ("json", 5),
)
DOC_LANGUAGES: tuple[tuple[str, float], ...] = (
    ("en", 70),
    ("es", 3),
    ("fr", 3),
    ("de", 3),
    ("pt", 3),
    ("ru", 8),
    ("zh", 5),
    ("ja", 3),
    ("code", 2),
)

IMAGE_SIZES = (
    (300, 200),
    (320, 240),
    (512, 512),
    (640, 480),
    (800, 600),
    (768, 1024),
    (1024, 768),
    (1280, 720),
    (1200, 1600),
    (1600, 1200),
    (1920, 1080),
    (2000, 1500),
)
CHUNK_BYTES = 16 * 1024 * 1024
MAX_RUN = 64  # longest run of consecutive pool pieces taken at once


def esc(text: str) -> bytes:
    """JSON-escape ``text`` without the surrounding quotes (escaping is per character, so
    concatenating escaped pieces equals escaping the concatenation)."""
    return orjson.dumps(text)[1:-1]


def zipf_cum_weights(n: int, exponent: float = 1.05) -> list[float]:
    """Cumulative Zipf weights for ranks 0..n-1 (for ``random.choices(cum_weights=...)``)."""
    return list(itertools.accumulate(1.0 / (rank + 2.7) ** exponent for rank in range(n)))


# --------------------------------------------------------------------------------------------------
# Sentence pools
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pool:
    """Pre-escaped text pieces of one language, joined with ``sep`` inside a paragraph."""

    pieces: list[bytes]
    """The pieces in random order, followed by the first ``MAX_RUN`` again so a run can wrap."""
    size: int
    sep: bytes
    mean_len: float


def english_vocabulary() -> list[str]:
    """Real English words first, then plural/past/-ing forms of the longer ones (rarer), by rank."""
    words = list(dict.fromkeys(ENGLISH))
    derived = []
    for word in words:
        if len(word) > 4 and word.isalpha() and word.islower():
            stem = word[:-1] if word.endswith("e") else word
            derived.extend((word + "s", stem + "ed", stem + "ing"))
    return words + derived


def entity(rng: random.Random) -> str:
    """A number, price, date, e-mail, order id, name or percentage (they make sentences unique)."""
    kind = rng.randrange(8)
    if kind == 0:
        return str(rng.randint(2, 99_999))
    if kind == 1:
        return f"${rng.randint(1, 4999)}.{rng.randint(0, 99):02d}"
    if kind == 2:
        return f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    if kind == 3:
        return f"{rng.choice(FIRST_NAMES).lower()}.{rng.choice(ENGLISH)}@example.com"
    if kind == 4:
        return f"#{rng.randint(10_000, 9_999_999)}"
    if kind == 5:
        return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
    if kind == 6:
        return f"{rng.randint(1, 99)}.{rng.randint(0, 9)}%"
    return rng.choice(COMPANIES)


def spaced_sentences(
    rng: random.Random,
    vocab: Sequence[str],
    count: int,
    min_words: int,
    max_words: int,
    entity_rate: float,
    emoji_rate: float,
    marks: str = "...?!",
) -> list[str]:
    """Sentences of Zipf-weighted words separated by spaces (Latin, Cyrillic, Hangul, Arabic)."""
    cum = zipf_cum_weights(len(vocab))
    out = []
    for _ in range(count):
        words = rng.choices(vocab, cum_weights=cum, k=rng.randint(min_words, max_words))
        if rng.random() < entity_rate:
            words.insert(rng.randrange(len(words) + 1), entity(rng))
        if len(words) > 8 and rng.random() < 0.35:
            words[rng.randrange(2, len(words) - 2)] += ","
        sentence = " ".join(words)
        sentence = sentence[:1].upper() + sentence[1:] + rng.choice(marks)
        if rng.random() < emoji_rate:
            sentence += " " + rng.choice(EMOJI)
        out.append(sentence)
    return out


def chinese_sentences(rng: random.Random, count: int) -> list[str]:
    """Runs of common characters with Chinese punctuation, no spaces."""
    cum = zipf_cum_weights(len(HANZI), 0.9)
    out = []
    for _ in range(count):
        clauses = []
        for _ in range(rng.randint(1, 3)):
            clauses.append("".join(rng.choices(HANZI, cum_weights=cum, k=rng.randint(5, 16))))
        if rng.random() < 0.15:
            clauses.insert(rng.randrange(len(clauses) + 1), str(rng.randint(2, 9999)))
        out.append("，".join(clauses) + rng.choice("。。。？！"))
    return out


def japanese_sentences(rng: random.Random, count: int) -> list[str]:
    """Kanji words, katakana loan words and hiragana particles."""
    cum = zipf_cum_weights(len(HANZI), 0.9)
    out = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(3, 8)):
            if rng.random() < 0.3:
                parts.append(rng.choice(KATAKANA_WORDS))
            else:
                parts.append("".join(rng.choices(HANZI, cum_weights=cum, k=rng.randint(1, 3))))
            parts.append(rng.choice(HIRAGANA_PARTICLES))
        out.append("".join(parts) + rng.choice("。。。か。"))
    return out


def code_snippets(rng: random.Random, count: int) -> list[str]:
    """Fenced code blocks in five languages with identifiers drawn from English words."""
    idents = [w for w in english_vocabulary() if w.isalpha() and w.islower()]
    docs = spaced_sentences(rng, english_vocabulary(), 200, 5, 12, 0.1, 0.0, ".")
    langs = list(CODE_TEMPLATES)
    out = []
    for _ in range(count):
        lang = rng.choice(langs)
        code = rng.choice(CODE_TEMPLATES[lang])
        fields = {
            "@f@": f"{rng.choice(idents)}_{rng.choice(idents)}",
            "@F@": rng.choice(idents).capitalize() + rng.choice(idents).capitalize(),
            "@C@": rng.choice(idents).capitalize() + rng.choice(("Parser", "Client", "Cache", "Job")),
            "@a@": rng.choice(idents),
            "@b@": rng.choice(idents) + "_" + rng.choice(("id", "count", "total")),
            "@v@": rng.choice(idents) + "s",
            "@doc@": rng.choice(docs),
        }
        for key, value in fields.items():
            code = code.replace(key, value)
        out.append(f"```{lang}\n{code}```")
    return out


def json_snippets(rng: random.Random, count: int) -> list[str]:
    """Order-, ticket- and event-like JSON documents, half pretty-printed."""
    out = []
    for _ in range(count):
        items = [
            {
                "sku": f"SKU-{rng.randint(1000, 99999)}",
                "name": f"{rng.choice(ENGLISH)} {rng.choice(ENGLISH)}",
                "qty": rng.randint(1, 12),
                "unit_price": round(rng.uniform(0.5, 900), 2),
            }
            for _ in range(rng.randint(1, 6))
        ]
        doc: dict[str, Any] = {
            "id": f"ord_{rng.getrandbits(48):012x}",
            "customer": {
                "name": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                "email": f"{rng.choice(ENGLISH)}{rng.randint(1, 999)}@example.com",
                "tier": rng.choice(("free", "pro", "enterprise")),
            },
            "items": items,
            "total": round(sum(i["qty"] * i["unit_price"] for i in items), 2),
            "currency": rng.choice(("USD", "EUR", "JPY", "BRL")),
            "created": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:"
            f"{rng.randint(0, 59):02d}:00Z",
            "notes": " ".join(rng.choices(ENGLISH, k=rng.randint(0, 14))) or None,
            "flags": {"gift": rng.random() < 0.2, "express": rng.random() < 0.3},
        }
        option = orjson.OPT_INDENT_2 if rng.random() < 0.5 else 0
        out.append("```json\n" + orjson.dumps(doc, option=option).decode() + "\n```")
    return out


def build_pools(rng: random.Random, scale: int) -> dict[str, Pool]:
    """Sentence pools per language; ``scale`` multiplies pool sizes (bigger = less repetition)."""
    english = english_vocabulary()
    raw: dict[str, tuple[list[str], str]] = {
        "en": (spaced_sentences(rng, english, 12_000 * scale, 4, 26, 0.18, 0.02), " "),
        "es": (spaced_sentences(rng, SPANISH, 1500 * scale, 5, 22, 0.1, 0.01), " "),
        "fr": (spaced_sentences(rng, FRENCH, 1500 * scale, 5, 22, 0.1, 0.01), " "),
        "de": (spaced_sentences(rng, GERMAN, 1500 * scale, 5, 20, 0.1, 0.01), " "),
        "pt": (spaced_sentences(rng, PORTUGUESE, 1000 * scale, 5, 20, 0.1, 0.01), " "),
        "ru": (spaced_sentences(rng, RUSSIAN, 2000 * scale, 4, 20, 0.1, 0.01), " "),
        "ko": (spaced_sentences(rng, KOREAN, 800 * scale, 3, 12, 0.1, 0.01, ".?"), " "),
        "ar": (spaced_sentences(rng, ARABIC, 500 * scale, 4, 16, 0.1, 0.0, ".؟"), " "),
        "zh": (chinese_sentences(rng, 2000 * scale), ""),
        "ja": (japanese_sentences(rng, 1200 * scale), ""),
        "code": (code_snippets(rng, 800 * scale), "\n\n"),
        "json": (json_snippets(rng, 800 * scale), "\n\n"),
    }
    pools = {}
    for lang, (texts, sep) in raw.items():
        pieces = [esc(t) for t in texts]
        wrapped = pieces + pieces[:MAX_RUN]
        pools[lang] = Pool(wrapped, len(pieces), esc(sep), sum(map(len, pieces)) / len(pieces))
    return pools


# --------------------------------------------------------------------------------------------------
# Images: valid PNG and baseline JPEG files without Pillow
# --------------------------------------------------------------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Latin-1 characters allowed in a PNG tEXt chunk (printable, no NUL); also used for JPEG COM.
_TEXT_ALPHABET = bytes(range(0x20, 0x7F)) + bytes(range(0xA1, 0x100))
TEXT_TABLE = bytes(_TEXT_ALPHABET[i % len(_TEXT_ALPHABET)] for i in range(256))


@dataclass(frozen=True, slots=True)
class BaseImage:
    """An image file split where padding (a tEXt chunk or COM segments) can be inserted."""

    mime: str
    head: bytes
    tail: bytes


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC-32 of type+data."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def make_png(rng: random.Random, width: int, height: int) -> BaseImage:
    """An 8-bit RGB PNG of horizontal bands, some flat and some with a horizontal gradient."""
    rows = []
    remaining = height
    while remaining > 0:
        band = min(remaining, rng.randint(height // 8 + 1, height // 2 + 1))
        r, g, b = rng.randrange(256), rng.randrange(256), rng.randrange(256)
        if rng.random() < 0.4:
            pixels = bytes(v for x in range(width) for v in (x * 255 // width, g, b))
        else:
            pixels = bytes((r, g, b)) * width
        rows.append((b"\x00" + pixels) * band)  # filter type 0 (None) on every row
        remaining -= band
    idat = zlib.compress(b"".join(rows), 6)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    head = PNG_SIGNATURE + png_chunk(b"IHDR", ihdr)
    return BaseImage("image/png", head, png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b""))


def png_padding(text: bytes) -> bytes:
    """A tEXt chunk holding ``text`` (already restricted to allowed Latin-1 characters)."""
    return png_chunk(b"tEXt", b"Comment\x00" + text)


def _huffman_codes(bits: Sequence[int], values: Sequence[int]) -> dict[int, str]:
    """Canonical JPEG Huffman codes (ITU T.81 Annex C) as bit strings."""
    codes: dict[int, str] = {}
    code = 0
    k = 0
    for length, count in enumerate(bits, start=1):
        for _ in range(count):
            codes[values[k]] = format(code, f"0{length}b")
            code += 1
            k += 1
        code <<= 1
    return codes


# Standard luminance DC table (T.81 Table K.3) and a minimal AC table holding EOB and one spare symbol.
DC_BITS = (0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0)
DC_VALUES = tuple(range(12))
AC_BITS = (0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
AC_VALUES = (0x00, 0x01)
DC_CODES = _huffman_codes(DC_BITS, DC_VALUES)
EOB = _huffman_codes(AC_BITS, AC_VALUES)[0x00]


def _dc_bits(diff: int) -> str:
    """Huffman code plus magnitude bits of one DC difference."""
    if diff == 0:
        return DC_CODES[0]
    size = abs(diff).bit_length()
    magnitude = diff if diff > 0 else diff + (1 << size) - 1
    return DC_CODES[size] + format(magnitude, f"0{size}b")


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def make_jpeg(rng: random.Random, width: int, height: int) -> BaseImage:
    """A baseline YCbCr 4:4:4 JPEG whose 8x8 blocks are flat, one colour per block row.

    Flat blocks need only DC coefficients, so the entropy-coded data is built directly as a bit
    string: per block row, the first block of each component carries the DC difference, the rest
    repeat ``DC 0 + EOB``.
    """
    mcu_cols = math.ceil(width / 8)
    mcu_rows = math.ceil(height / 8)
    flat_mcu = (DC_CODES[0] + EOB) * 3
    level = [rng.randint(-40, 40), rng.randint(-12, 12), rng.randint(-12, 12)]
    previous = [0, 0, 0]
    rows = []
    for _ in range(mcu_rows):
        level[0] = max(-60, min(60, level[0] + rng.randint(-2, 2)))  # quantized DC: Y drifts slowly
        first = "".join(_dc_bits(level[c] - previous[c]) + EOB for c in range(3))
        previous = list(level)
        rows.append(first + flat_mcu * (mcu_cols - 1))
    bitstring = "".join(rows)
    bitstring += "1" * (-len(bitstring) % 8)  # pad the last byte with 1-bits (T.81 F.1.2.3)
    scan = int(bitstring, 2).to_bytes(len(bitstring) // 8, "big").replace(b"\xff", b"\xff\x00")

    jfif = b"JFIF\x00" + bytes((1, 1, 0)) + struct.pack(">HH", 1, 1) + bytes((0, 0))
    dqt = bytes((0,)) + bytes((16,) * 64)
    sof = struct.pack(">BHHB", 8, height, width, 3) + bytes((1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0))
    dht_dc = bytes((0x00,)) + bytes(DC_BITS) + bytes(DC_VALUES)
    dht_ac = bytes((0x10,)) + bytes(AC_BITS) + bytes(AC_VALUES)
    sos = bytes((3, 1, 0x00, 2, 0x00, 3, 0x00, 0, 63, 0))
    head = b"\xff\xd8" + _jpeg_segment(0xE0, jfif)
    tail = (
        _jpeg_segment(0xDB, dqt)
        + _jpeg_segment(0xC0, sof)
        + _jpeg_segment(0xC4, dht_dc)
        + _jpeg_segment(0xC4, dht_ac)
        + _jpeg_segment(0xDA, sos)
        + scan
        + b"\xff\xd9"
    )
    return BaseImage("image/jpeg", head, tail)


def jpeg_padding(text: bytes) -> bytes:
    """COM segments (at most 65533 bytes of payload each) holding ``text``."""
    return b"".join(_jpeg_segment(0xFE, text[i : i + 65533]) for i in range(0, len(text), 65533))


# --------------------------------------------------------------------------------------------------
# Line assembly
# --------------------------------------------------------------------------------------------------


def quoted(*pieces: bytes) -> orjson.Fragment:
    """A JSON string made of already-escaped pieces."""
    return Fragment(b"".join((b'"', *pieces, b'"')))


def cumulative(shares: Sequence[tuple[str, float]]) -> tuple[list[str], list[float]]:
    names = [name for name, _ in shares]
    return names, list(itertools.accumulate(share for _, share in shares))


class Generator:
    """Builds request lines from pre-escaped building blocks; one instance per output file."""

    def __init__(self, seed: int, only_short: bool, pool_scale: int) -> None:
        self.rng = random.Random(seed)
        self.random = self.rng.random
        self.bytes_rng = np.random.default_rng(seed)
        self.only_short = only_short
        rng = self.rng
        self.pools = build_pools(rng, pool_scale)
        self.instructions = {lang: [esc(s) for s in items] for lang, items in INSTRUCTIONS.items()}
        self.prompt_langs, self.prompt_cum = cumulative(PROMPT_LANGUAGES)
        self.doc_langs, self.doc_cum = cumulative(DOC_LANGUAGES)
        self.categories, self.category_cum = cumulative(MIX)
        # Sentences per prompt: lognormal (median ~10, mean ~15, at most 60), drawn once.
        self.sentence_counts = [max(1, min(60, int(rng.lognormvariate(2.35, 0.85)))) for _ in range(8192)]
        self.system_texts = [self._system_instruction(target) for target in (2_000, 5_000, 9_000)]
        self.shared_doc = self._shared_document(20_000)
        self.image_questions = [esc(q) for q in IMAGE_QUESTIONS]
        self.images = [make_png(rng, *rng.choice(IMAGE_SIZES)) for _ in range(10)]
        self.images += [make_jpeg(rng, *rng.choice(IMAGE_SIZES)) for _ in range(6)]
        self.function_tools = self._function_declarations()
        self.handlers: dict[str, Callable[[dict[str, str]], dict[str, Any]]] = {
            "short": self.short,
            "system": self.system,
            "shared_doc": self.shared_document_request,
            "multi_turn": self.multi_turn,
            "unique_doc": self.unique_document,
            "image": self.image,
        }
        # Shared texts are quoted once and then reused by reference on many lines.
        self.system_quoted = [b'"' + text + b'"' for text in self.system_texts]
        self.shared_doc_quoted = Fragment(b'"' + self.shared_doc + b'"')

    # -- random helpers (cheaper than random.choice/choices, which matters at ~2 M lines) ----------

    def pick(self, seq: Sequence[Any]) -> Any:
        return seq[int(self.random() * len(seq))]

    def weighted(self, names: Sequence[str], cum: Sequence[float]) -> str:
        return names[bisect.bisect(cum, self.random() * cum[-1])]

    # -- building blocks --------------------------------------------------------------------------

    def _sample(self, pool: Pool, count: int) -> list[bytes]:
        """``count`` pieces taken as runs of consecutive pool entries from random offsets.

        The pool was generated piece by piece at random, so a run is as random as independent
        draws, and a slice costs one random number instead of one per piece.
        """
        randrange = self.rng.randrange
        if count <= MAX_RUN:
            start = randrange(pool.size)
            return pool.pieces[start : start + count]
        out: list[bytes] = []
        while count > 0:
            run = min(count, randrange(8, MAX_RUN + 1))
            start = randrange(pool.size)
            out += pool.pieces[start : start + run]
            count -= run
        return out

    def _text(self, lang: str, count: int) -> bytes:
        pool = self.pools[lang]
        return pool.sep.join(self._sample(pool, count))

    def _document(self, lang: str, target_bytes: int) -> bytes:
        """Paragraphs of 3-8 pieces separated by blank lines, about ``target_bytes`` long."""
        pool = self.pools[lang]
        count = max(1, round(target_bytes / (pool.mean_len + len(pool.sep))))
        pieces = self._sample(pool, count)
        paragraphs = []
        i = 0
        while i < count:
            step = self.rng.randint(3, 8)
            paragraphs.append(pool.sep.join(pieces[i : i + step]))
            i += step
        return b"\\n\\n".join(paragraphs)

    def _system_instruction(self, target: int) -> bytes:
        company = self.rng.choice(COMPANIES)
        header = esc(
            f"You are a careful assistant for {company}. Follow these rules exactly.\n\n"
            "Rules:\n1. Answer in the user's language.\n2. Never invent order numbers, prices or dates.\n"
            "3. If the request is unclear, ask one short question.\n4. Output plain text unless asked for JSON.\n\n"
            "Background:\n"
        )
        return header + self._document("en", target - len(header))

    def _shared_document(self, target: int) -> bytes:
        sections = []
        for number in range(1, 9):
            title = esc(f"## Section {number}: {' '.join(self.rng.choices(ENGLISH, k=3)).title()}\n\n")
            sections.append(title + self._document("en", target // 8 - len(title)))
        return esc("# Service agreement and operating manual\n\n") + b"\\n\\n".join(sections)

    def _function_declarations(self) -> list[list[dict[str, Any]]]:
        weather = {
            "name": "get_weather",
            "description": "Current weather for a city.",
            "parameters": {
                "type": "OBJECT",
                "properties": {
                    "city": {"type": "STRING", "description": "City name, e.g. São Paulo"},
                    "unit": {"type": "STRING", "enum": ["celsius", "fahrenheit"]},
                },
                "required": ["city"],
            },
        }
        order = {
            "name": "lookup_order",
            "description": "Find an order by its id and return status and items.",
            "parameters": {
                "type": "OBJECT",
                "properties": {
                    "order_id": {"type": "STRING"},
                    "include_items": {"type": "BOOLEAN"},
                    "max_items": {"type": "INTEGER"},
                },
                "required": ["order_id"],
            },
        }
        refund = {
            "name": "create_refund",
            "description": "Refund part or all of an order.",
            "parameters": {
                "type": "OBJECT",
                "properties": {
                    "order_id": {"type": "STRING"},
                    "amount": {"type": "NUMBER"},
                    "reasons": {"type": "ARRAY", "items": {"type": "STRING"}},
                },
                "required": ["order_id", "amount"],
            },
        }
        return [[weather], [order], [order, refund], [weather, order, refund]]

    # -- request parts ----------------------------------------------------------------------------

    def names(self) -> dict[str, str]:
        """Field spellings for one line: mostly camelCase, some snake_case, a few mixed."""
        r = self.rng.random()
        if r < 0.88:
            return CAMEL
        if r < 0.96:
            return SNAKE
        return {name: (SNAKE if self.rng.random() < 0.5 else CAMEL)[name] for name in CAMEL_FIELDS}

    def prompt(self) -> bytes:
        """An instruction plus a lognormal number of sentences in one language."""
        rng = self.rng
        lang = self.weighted(self.prompt_langs, self.prompt_cum)
        instruction = self.pick(self.instructions[lang])
        if lang in ("code", "json"):
            return instruction + b"\\n\\n" + self._text(lang, 1 if rng.random() < 0.85 else 2)
        count = self.pick(self.sentence_counts)
        body = self._text(lang, count)
        if lang == "en" and rng.random() < 0.08:  # a mixed-language prompt: quote another language
            other = self.pick(("es", "fr", "de", "ru", "zh", "ja"))
            body += b"\\n\\n\\u201c" + self._text(other, rng.randint(1, 4)) + b"\\u201d"
        sep = b" " if rng.random() < 0.5 else b"\\n\\n"
        return instruction + sep + body

    def generation_config(self, n: dict[str, str]) -> dict[str, Any] | None:
        rng = self.rng.random
        if rng() < 0.35:
            return None
        cfg: dict[str, Any] = {}
        if rng() < 0.7:
            value = self.pick(MAX_OUTPUT_TOKENS)
            cfg[n["maxOutputTokens"]] = str(value) if rng() < 0.08 else value  # int64-as-string is valid
        if rng() < 0.5:
            cfg["temperature"] = self.pick(TEMPERATURES)
        if rng() < 0.15:
            cfg[n["topP"]] = self.pick((0.8, 0.9, 0.95, 1.0))
        if rng() < 0.05:
            cfg[n["topK"]] = self.pick((20, 40, 64))
        if rng() < 0.3:
            if rng() < 0.5:
                thinking: dict[str, Any] = {n["thinkingBudget"]: self.pick(THINKING_BUDGETS)}
            else:
                thinking = {n["thinkingLevel"]: self.pick(THINKING_LEVELS)}
            if rng() < 0.15:
                thinking[n["includeThoughts"]] = True
            cfg[n["thinkingConfig"]] = thinking
        if rng() < 0.06:
            cfg[n["responseMimeType"]] = "application/json"
            if rng() < 0.6:
                cfg[n["responseSchema"]] = {
                    "type": "OBJECT",
                    "properties": {
                        "label": {"type": "STRING", "enum": ["positive", "negative", "neutral"]},
                        "confidence": {"type": "NUMBER"},
                    },
                    "required": ["label"],
                }
        if rng() < 0.03:
            cfg[n["stopSequences"]] = ["\n\n###", "END"]
        if rng() < 0.03:
            cfg["seed"] = self.rng.randrange(1, 2**31)
        return cfg or None

    def extras(self, request: dict[str, Any], n: dict[str, str], allow_tools: bool = True) -> dict[str, Any]:
        """Adds generationConfig, tools and safetySettings to ``request``."""
        rng = self.rng
        cfg = self.generation_config(n)
        if cfg is not None:
            request[n["generationConfig"]] = cfg
        if allow_tools and rng.random() < 0.01:
            if rng.random() < 0.45:
                request["tools"] = [{n["googleSearch"]: {}}]
            else:
                request["tools"] = [{n["functionDeclarations"]: self.pick(self.function_tools)}]
                if rng.random() < 0.3:
                    mode = self.pick(("AUTO", "ANY"))
                    request[n["toolConfig"]] = {n["functionCallingConfig"]: {"mode": mode}}
        if rng.random() < 0.02:
            request[n["safetySettings"]] = [
                {"category": category, "threshold": self.pick(HARM_THRESHOLDS)}
                for category in rng.sample(HARM_CATEGORIES, rng.randint(1, 4))
            ]
        return request

    def user(self, *parts: dict[str, Any]) -> dict[str, Any]:
        # A single-turn request may omit the role (the API defaults it to "user").
        if self.rng.random() < 0.03:
            return {"parts": list(parts)}
        return {"role": "user", "parts": list(parts)}

    # -- request kinds ------------------------------------------------------------------------------

    def short(self, n: dict[str, str]) -> dict[str, Any]:
        return self.extras({"contents": [self.user({"text": quoted(self.prompt())})]}, n)

    def system(self, n: dict[str, str]) -> dict[str, Any]:
        request = {
            "contents": [self.user({"text": quoted(self.prompt())})],
            n["systemInstruction"]: {"parts": [{"text": Fragment(self.system_quoted[self.rng.randrange(3)])}]},
        }
        return self.extras(request, n)

    def shared_document_request(self, n: dict[str, str]) -> dict[str, Any]:
        question = self._text("en", self.rng.randint(1, 3))
        parts = [{"text": self.shared_doc_quoted}, {"text": quoted(b"Question: ", question)}]
        return self.extras({"contents": [self.user(*parts)]}, n, allow_tools=False)

    def multi_turn(self, n: dict[str, str]) -> dict[str, Any]:
        lang = self.weighted(self.doc_langs, self.doc_cum)
        answer_lang = "en" if lang == "code" else lang
        contents = [
            {"role": "user", "parts": [{"text": quoted(self.prompt())}]},
            {"role": "model", "parts": [{"text": quoted(self._document(answer_lang, self.rng.randint(300, 4000)))}]},
            {"role": "user", "parts": [{"text": quoted(self._text(answer_lang, self.rng.randint(1, 4)))}]},
        ]
        return self.extras({"contents": contents}, n)

    def unique_document(self, n: dict[str, str]) -> dict[str, Any]:
        rng = self.rng
        lang = self.weighted(self.doc_langs, self.doc_cum)
        document = self._document(lang, rng.randint(50_000, 200_000))
        instruction = self.pick(self.instructions["en"])
        parts = [{"text": quoted(instruction)}, {"text": quoted(document)}]
        if rng.random() < 0.3:
            parts.reverse()
        return self.extras({"contents": [self.user(*parts)]}, n, allow_tools=False)

    def image(self, n: dict[str, str]) -> dict[str, Any]:
        rng = self.rng
        base = self.pick(self.images)
        target = int(math.exp(rng.uniform(math.log(50_000), math.log(500_000))))
        room = target - len(base.head) - len(base.tail) - 20
        text = b""
        if room > 0:
            raw = self.bytes_rng.bit_generator.random_raw(room // 8 + 1).tobytes()[:room]
            text = raw.translate(TEXT_TABLE)
        padding = png_padding(text) if base.mime == "image/png" else jpeg_padding(text)
        data = base64.b64encode(base.head + padding + base.tail)
        image_part = {n["inlineData"]: {n["mimeType"]: base.mime, "data": Fragment(b'"' + data + b'"')}}
        question = {"text": quoted(self.pick(self.image_questions))}
        parts = [image_part, question] if rng.random() < 0.6 else [question, image_part]
        request = self.extras({"contents": [self.user(*parts)]}, n, allow_tools=False)
        if rng.random() < 0.1:
            cfg = request.setdefault(n["generationConfig"], {})
            cfg[n["mediaResolution"]] = self.pick(("MEDIA_RESOLUTION_LOW", "MEDIA_RESOLUTION_HIGH"))
        return request

    # -- file ---------------------------------------------------------------------------------------

    def line(self, index: int) -> tuple[str, bytes]:
        """The request kind and one complete JSONL line (with its newline) for request ``index``."""
        kind = "short" if self.only_short else self.weighted(self.categories, self.category_cum)
        request = self.handlers[kind](self.names())
        line = orjson.dumps({"key": f"req-{index:09d}", "request": request}, option=orjson.OPT_APPEND_NEWLINE)
        return kind, line


def generate(
    out: Path, target_bytes: int, seed: int, only_short: bool, pool_scale: int
) -> tuple[int, int, dict[str, int]]:
    """Writes lines to ``out`` until the next one would pass ``target_bytes``.

    Returns:
        (lines written, bytes written, lines per request kind).
    """
    gen = Generator(seed, only_short, pool_scale)
    counts = dict.fromkeys(gen.categories, 0)
    written = 0
    lines = 0
    buffer: list[bytes] = []
    buffered = 0
    with out.open("wb") as handle:
        while True:
            kind, line = gen.line(lines)
            if written + buffered + len(line) > target_bytes:
                break
            counts[kind] += 1
            buffer.append(line)
            buffered += len(line)
            lines += 1
            if buffered >= CHUNK_BYTES:
                handle.write(b"".join(buffer))
                written += buffered
                buffer.clear()
                buffered = 0
        handle.write(b"".join(buffer))
        written += buffered
    return lines, written, counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="output .jsonl path")
    size = parser.add_mutually_exclusive_group(required=True)
    size.add_argument("--size-gb", type=float, help="target size in GB (10**9 bytes)")
    size.add_argument("--size-mb", type=float, help="target size in MB (10**6 bytes), for tests/CI")
    parser.add_argument("--seed", type=int, default=1, help="random seed (same seed + size = same bytes)")
    parser.add_argument(
        "--lines-only-short", action="store_true", help="only short prompts (~1.2 KB lines): the worst case per byte"
    )
    parser.add_argument(
        "--pool-scale", type=int, default=4, help="size of the sentence pools (higher = less repetition, slower start)"
    )
    args = parser.parse_args(argv)
    target = int(args.size_gb * 1e9) if args.size_gb is not None else int(args.size_mb * 1e6)
    if target <= 0:
        parser.error("the size must be positive")
    args.out.parent.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    lines, written, counts = generate(args.out, target, args.seed, args.lines_only_short, args.pool_scale)
    seconds = time.perf_counter() - start
    mix = ", ".join(f"{kind} {count / max(lines, 1):.1%}" for kind, count in counts.items() if count)
    print(f"wrote {args.out}")
    print(
        f"lines {lines:,}  bytes {written:,} ({written / 1e9:.3f} GB)  seconds {seconds:.2f}  "
        f"{written / 1e6 / seconds:,.0f} MB/s"
    )
    print(f"mix (by line): {mix}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
