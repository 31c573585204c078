# ruff: noqa: RUF001 - texts in many scripts, on purpose
"""shared.language: langdetect's answer wherever langdetect is clear, in a fraction of its time.

The detector is no longer langdetect bit for bit (it reads a bounded sample, draws n-grams
without listing them, drops hopeless languages from a trial and stops its trials early when
they agree), so it is held to langdetect's answer on every text where langdetect is clear: its
top probability at least 0.9, under each of three seeds, for the same language (on a mixture
or a few words, langdetect's seeded trials may all agree on one language by chance, and its
answer then moves with the seed). The texts: the corpus, two sentences in each of 47
languages, mixtures of languages and word salads.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from langdetect import DetectorFactory, detector_factory
from langdetect.lang_detect_exception import LangDetectException

from services.extractor.extraction.collector import LanguageSample
from services.extractor.extraction.dispatch import extract_pages
from shared import language
from shared.text import detect_language, sanitize

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
CLEAR = 0.9  # langdetect's top probability from which its answer must be ours
SEEDS = (0, 1, 2)  # langdetect's seeds that must all give that answer and probability

SAMPLES = [
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Le plan directeur de transport actif de la ville est adopté.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "El rápido zorro marrón salta sobre el perro perezoso.",
    "Быстрая коричневая лиса прыгает через ленивую собаку.",
    "سلام عليكم، هذا نص عربي قصير للتجربة مع بعض الكلمات الإضافية.",
    "זהו טקסט קצר בעברית לבדיקה של זיהוי השפה.",
    "これは日本語のテキストです。カタカナもひらがなも漢字もあります。",
    "这是一个中文句子，用来测试语言检测。",
    "한국어 문장입니다. 언어 감지를 시험합니다.",
    "Tiếng Việt có dấu: Hà Nội, Việt Nam, người, được, những.",
    "Tie\u0302\u0301ng Vie\u0323\u0302t co\u0301 da\u0302\u0301u (combining marks).",
    "ALL CAPITALS HEADER THEN Some Mixed Words and NASA, USA, the EU.",
    "Visit https://example.org/a?b=c or write to someone@example.com today, please!",
    "Spaces    and\ttabs\n\nand new lines   and ... punctuation!!! ??? — “quotes” ‘here’",
    "Latin words in a Cyrillic text: это текст with some English слова внутри него.",
    "Ελληνικά κείμενα για δοκιμή της ανίχνευσης γλώσσας.",
    "ok ok ok",
    "123 456 789 !!! ???",
    "Ș ș Ț ț Romanian comma-below letters: ştiinţă știință",
    "\U0001d400\U0001d401 astral letters and emoji \U0001f600 in English text here.",
    "a",
    "",
]

# Two everyday sentences per language (the same two ideas throughout), in most of the 55
# languages langdetect's profiles know.
SENTENCES: dict[str, tuple[str, ...]] = {
    "af": (
        "Die stad se raad het die nuwe vervoerplan vir die volgende tien jaar goedgekeur.",
        "Ons het gister by my ouma gaan kuier en sy het vir ons koek gebak.",
    ),
    "ar": (
        "وافق مجلس المدينة على خطة النقل الجديدة للسنوات العشر القادمة.",
        "ذهبنا أمس لزيارة جدتي وقد خبزت لنا كعكة لذيذة.",
    ),
    "bg": (
        "Градският съвет одобри новия транспортен план за следващите десет години.",
        "Вчера отидохме на гости при баба и тя ни опече сладкиш.",
    ),
    "bn": (
        "নগর পরিষদ আগামী দশ বছরের জন্য নতুন পরিবহন পরিকল্পনা অনুমোদন করেছে।",
        "গতকাল আমরা দাদির বাড়িতে গিয়েছিলাম এবং তিনি আমাদের জন্য পিঠা বানিয়েছিলেন।",
    ),
    "ca": (
        "L'ajuntament de la ciutat ha aprovat el nou pla de transport per als propers deu anys.",
        "Ahir vam anar a veure la meva àvia i ens va fer un pastís boníssim.",
    ),
    "cs": (
        "Městská rada schválila nový dopravní plán na příštích deset let.",
        "Včera jsme byli na návštěvě u babičky a upekla nám koláč.",
    ),
    "cy": (
        "Mae cyngor y ddinas wedi cymeradwyo'r cynllun trafnidiaeth "
        "newydd ar gyfer y deng mlynedd nesaf.",
        "Aethon ni i weld fy mam-gu ddoe ac fe wnaeth hi gacen i ni.",
    ),
    "da": (
        "Byrådet har godkendt den nye trafikplan for de næste ti år.",
        "I går besøgte vi min bedstemor, og hun bagte en kage til os.",
    ),
    "de": (
        "Der Stadtrat hat den neuen Verkehrsplan für die nächsten zehn Jahre beschlossen.",
        "Gestern haben wir meine Großmutter besucht, und sie hat uns einen Kuchen gebacken.",
    ),
    "el": (
        "Το δημοτικό συμβούλιο ενέκρινε το νέο σχέδιο μεταφορών για τα επόμενα δέκα χρόνια.",
        "Χθες επισκεφθήκαμε τη γιαγιά μου και μας έψησε ένα κέικ.",
    ),
    "en": (
        "The city council has approved the new transport plan for the next ten years.",
        "Yesterday we visited my grandmother and she baked us a cake.",
    ),
    "es": (
        "El ayuntamiento ha aprobado el nuevo plan de transporte para los próximos diez años.",
        "Ayer fuimos a visitar a mi abuela y nos preparó un pastel.",
    ),
    "et": (
        "Linnavolikogu kiitis heaks uue transpordikava järgmiseks kümneks aastaks.",
        "Eile käisime vanaema juures külas ja ta küpsetas meile koogi.",
    ),
    "fa": (
        "شورای شهر طرح جدید حمل و نقل را برای ده سال آینده تصویب کرد.",
        "دیروز به دیدن مادربزرگم رفتیم و او برای ما کیک پخت.",
    ),
    "fi": (
        "Kaupunginvaltuusto on hyväksynyt uuden liikennesuunnitelman "
        "seuraaville kymmenelle vuodelle.",
        "Eilen kävimme isoäidin luona, ja hän leipoi meille kakun.",
    ),
    "fr": (
        "Le conseil municipal a adopté le nouveau plan de transport "
        "pour les dix prochaines années.",
        "Hier, nous sommes allés voir ma grand-mère et elle nous a préparé un gâteau.",
    ),
    "he": (
        "מועצת העיר אישרה את תוכנית התחבורה החדשה לעשר השנים הבאות.",
        "אתמול ביקרנו אצל סבתא שלי והיא אפתה לנו עוגה.",
    ),
    "hi": (
        "नगर परिषद ने अगले दस वर्षों के लिए नई परिवहन योजना को मंजूरी दी है।",
        "कल हम अपनी दादी से मिलने गए और उन्होंने हमारे लिए केक बनाया।",
    ),
    "hr": (
        "Gradsko vijeće usvojilo je novi prometni plan za sljedećih deset godina.",
        "Jučer smo posjetili baku i ispekla nam je kolač.",
    ),
    "hu": (
        "A városi tanács elfogadta az új közlekedési tervet a következő tíz évre.",
        "Tegnap meglátogattuk a nagymamámat, és sütött nekünk egy tortát.",
    ),
    "id": (
        "Dewan kota telah menyetujui rencana transportasi baru untuk sepuluh tahun ke depan.",
        "Kemarin kami mengunjungi nenek saya dan dia membuatkan kami kue.",
    ),
    "it": (
        "Il consiglio comunale ha approvato il nuovo piano dei "
        "trasporti per i prossimi dieci anni.",
        "Ieri siamo andati a trovare mia nonna e ci ha preparato una torta.",
    ),
    "ja": (
        "市議会は今後十年間の新しい交通計画を承認しました。",
        "昨日は祖母の家に行って、ケーキを焼いてもらいました。",
    ),
    "ko": (
        "시의회는 앞으로 10년 동안의 새로운 교통 계획을 승인했습니다.",
        "어제 우리는 할머니 댁에 갔고 할머니께서 케이크를 구워 주셨습니다.",
    ),
    "lt": (
        "Miesto taryba patvirtino naują transporto planą ateinantiems dešimčiai metų.",
        "Vakar aplankėme močiutę, ir ji mums iškepė pyragą.",
    ),
    "lv": (
        "Pilsētas dome ir apstiprinājusi jauno transporta plānu nākamajiem desmit gadiem.",
        "Vakar mēs apciemojām vecmāmiņu, un viņa mums izcepa kūku.",
    ),
    "mk": (
        "Градскиот совет го одобри новиот сообраќаен план за следните десет години.",
        "Вчера ја посетивме баба ми и таа ни испече торта.",
    ),
    "nl": (
        "De gemeenteraad heeft het nieuwe vervoersplan voor de komende tien jaar goedgekeurd.",
        "Gisteren zijn we bij mijn oma op bezoek geweest en ze heeft een taart voor ons gebakken.",
    ),
    "no": (
        "Bystyret har vedtatt den nye transportplanen for de neste ti årene.",
        "I går besøkte vi bestemoren min, og hun bakte en kake til oss.",
    ),
    "pl": (
        "Rada miasta zatwierdziła nowy plan transportowy na najbliższe dziesięć lat.",
        "Wczoraj odwiedziliśmy babcię, a ona upiekła nam ciasto.",
    ),
    "pt": (
        "A câmara municipal aprovou o novo plano de transportes para os próximos dez anos.",
        "Ontem fomos visitar a minha avó e ela fez-nos um bolo.",
    ),
    "ro": (
        "Consiliul local a aprobat noul plan de transport pentru următorii zece ani.",
        "Ieri am vizitat-o pe bunica mea și ne-a făcut o prăjitură.",
    ),
    "ru": (
        "Городской совет утвердил новый транспортный план на следующие десять лет.",
        "Вчера мы ездили к бабушке, и она испекла нам пирог.",
    ),
    "sk": (
        "Mestské zastupiteľstvo schválilo nový dopravný plán na nasledujúcich desať rokov.",
        "Včera sme boli na návšteve u babky a upiekla nám koláč.",
    ),
    "sl": (
        "Mestni svet je sprejel nov prometni načrt za naslednjih deset let.",
        "Včeraj smo obiskali babico in spekla nam je pecivo.",
    ),
    "sq": (
        "Këshilli bashkiak miratoi planin e ri të transportit për dhjetë vitet e ardhshme.",
        "Dje shkuam te gjyshja ime dhe ajo na gatoi një ëmbëlsirë.",
    ),
    "sv": (
        "Kommunfullmäktige har godkänt den nya trafikplanen för de kommande tio åren.",
        "I går hälsade vi på min mormor och hon bakade en kaka till oss.",
    ),
    "sw": (
        "Baraza la jiji limeidhinisha mpango mpya wa usafiri kwa miaka kumi ijayo.",
        "Jana tulimtembelea bibi yangu na alituokea keki.",
    ),
    "ta": (
        "நகர சபை அடுத்த பத்து ஆண்டுகளுக்கான புதிய போக்குவரத்து திட்டத்தை அங்கீகரித்துள்ளது.",
        "நேற்று நாங்கள் என் பாட்டியைப் பார்க்கச் சென்றோம், அவர் எங்களுக்கு ஒரு கேக் செய்தார்.",
    ),
    "th": (
        "สภาเมืองได้อนุมัติแผนการขนส่งใหม่สำหรับสิบปีข้างหน้า",
        "เมื่อวานเราไปเยี่ยมคุณยายและท่านอบเค้กให้เรา",
    ),
    "tl": (
        "Inaprubahan ng konseho ng lungsod ang bagong plano sa "
        "transportasyon para sa susunod na sampung taon.",
        "Kahapon ay binisita namin ang aking lola at ipinagluto niya kami ng keyk.",
    ),
    "tr": (
        "Belediye meclisi önümüzdeki on yıl için yeni ulaşım planını onayladı.",
        "Dün babaanneme gittik ve bize bir kek pişirdi.",
    ),
    "uk": (
        "Міська рада затвердила новий транспортний план на наступні десять років.",
        "Учора ми їздили до бабусі, і вона спекла нам пиріг.",
    ),
    "ur": (
        "سٹی کونسل نے اگلے دس سالوں کے لیے نئے ٹرانسپورٹ منصوبے کی منظوری دے دی ہے۔",
        "کل ہم اپنی دادی سے ملنے گئے اور انہوں نے ہمارے لیے کیک بنایا۔",
    ),
    "vi": (
        "Hội đồng thành phố đã phê duyệt kế hoạch giao thông mới cho mười năm tới.",
        "Hôm qua chúng tôi đến thăm bà và bà đã nướng bánh cho chúng tôi.",
    ),
    "zh-cn": (
        "市议会批准了未来十年的新交通规划。",
        "昨天我们去看望了奶奶，她给我们烤了一个蛋糕。",
    ),
    "zh-tw": (
        "市議會批准了未來十年的新交通規劃。",
        "昨天我們去看望了奶奶，她給我們烤了一個蛋糕。",
    ),
}


def _langdetect(text: str, seed: int = 0) -> tuple[str | None, float]:
    """langdetect's own answer and its probability, with that seed."""
    DetectorFactory.seed = seed
    detector_factory.init_factory()
    detector = detector_factory._factory.create()
    detector.append(text)
    try:
        found = detector.get_probabilities()
    except LangDetectException:
        return None, 1.0  # no features: both must say None
    if not found:
        return "unknown", 0.0
    return found[0].lang, found[0].prob


def _clear(text: str) -> str | bool | None:
    """langdetect's answer where it is clear (see above), else False."""
    answers = {_langdetect(text, seed) for seed in SEEDS}
    languages = {language for language, _ in answers}
    if len(languages) == 1 and min(p for _, p in answers) >= CLEAR:
        return languages.pop()
    return False


def _corpus_samples() -> dict[str, str]:
    """What the extractor hands language detection for each readable corpus file."""
    samples = {}
    for path in sorted((CORPUS / "pdf").glob("*.pdf")) + sorted((CORPUS / "docx").glob("*.docx")):
        try:
            pages = extract_pages(path)
        except Exception:  # noqa: BLE001 - encrypted, empty: no text to compare
            continue
        sample = LanguageSample()
        for page in pages:
            text = sanitize(page)
            sample.add(text, not text.strip())
        samples[path.name] = "\n\n".join(sample.parts)[:4000]
    return samples


def _texts() -> Iterator[str]:
    """Short and long texts in one language, mixtures, and words no one put together."""
    rng = random.Random(7)
    yield from SAMPLES
    for sentences in SENTENCES.values():
        yield from sentences
        yield " ".join(sentences)
        yield " ".join(sentences * 40)[:4000]  # longer than the detector reads
    languages = sorted(SENTENCES)
    for _ in range(60):
        main, other = rng.sample(languages, 2)
        yield f"{rng.choice(SENTENCES[main])} {rng.choice(SENTENCES[other])}"
        text = " ".join(rng.choice(SENTENCES[main]) for _ in range(rng.randint(5, 40)))
        cut = rng.randint(0, len(text))
        yield f"{text[:cut]} {rng.choice(SENTENCES[other])} {text[cut:]}"[:4000]
    words = " ".join(SAMPLES + [s for group in SENTENCES.values() for s in group]).split(" ")
    for _ in range(40):
        yield " ".join(rng.choices(words, k=rng.randint(1, 300)))


def test_same_answer_as_langdetect_where_it_is_clear() -> None:
    clear = 0
    for text in _texts():
        expected = _clear(text)
        if expected is not False:
            clear += 1
            assert language.detect(text) == expected, text[:80]
    assert clear > 200  # most of them: the comparison says something


def test_same_answer_as_langdetect_on_the_corpus() -> None:
    samples = _corpus_samples()
    assert len(samples) > 10
    for name, text in samples.items():
        expected = _clear(text)
        if expected is not False:
            assert language.detect(text) == expected, name
    # The languages the corpus README names.
    assert language.detect(samples["chelsea_pdta.pdf"]) == "fr"
    assert language.detect(samples["federal-register-2020-17221.pdf"]) == "en"
    assert language.detect(samples["scotus-transcript-p1.pdf"]) == "en"


@pytest.mark.parametrize("code", sorted(SENTENCES))
def test_each_language_of_its_own(code: str) -> None:
    # A few sentences of one language, long or short: that language, as langdetect says.
    text = " ".join(SENTENCES[code])
    expected = _clear(text)
    if expected is not False:
        assert expected == code  # the samples are what they claim to be
        assert language.detect(text) == code
        assert language.detect(" ".join([text] * 40)) == code


# Texts for the n-gram list: capitals (words, single letters, after digits and punctuation),
# Vietnamese precomposed and with combining marks, CJK and kana, Hangul, astral characters
# (capitals among them), lone surrogates, URLs and mail addresses, runs of spaces, text in
# another script with Latin words in it (which langdetect drops), empty and one letter.
LISTING_TEXTS = [
    *SAMPLES,
    "A",
    "AB",
    "aB",
    "Ab",
    " A B C ",
    "NASA's USA-based R&D: ÉTATS-UNIS, ÖSTERREICH, İSTANBUL, ΑΘΗΝΑ, МОСКВА.",
    "x  y   z    w",
    "\U0001d400\U0001d401b \U0001d41aB \U0001d400Bc \U00010400\U00010401 \U00010428",
    "caf\udce9 lone surrogates \ud800 here",
    "mail a.b-c@d-e.fg and https://x.y/z?q=1#f then http://a.b text",
    "ａｂｃ ＡＢＣ full width, ½ ² µ ß ÿ Ÿ ĳ Ĳ ǅ ǆ ᾈ ᾀ",
    "Це текст українською з English words, numbers 123 and ÀÉÎ.",
    "Việt Nam Hà Nội Thành phố Hồ Chí Minh Ắ Ằ Ẳ Ẵ Ặ",
    "テスト カタカナ ひらがな 漢字 中文 한국어 ㄅㄆㄇ ﾃｽﾄ",
    "\t\n\r\x0b\x0c\u00a0\u2028\u3000 spaces of all kinds\u200b\ufeff",
    "اللغة العربية ی ي فارسی",
]


def _listed_by_langdetect(text: str) -> list[str]:
    detector = detector_factory._factory.create()
    detector.append(text)
    detector.cleaning_text()
    listed: list[str] = detector._extract_ngrams()
    return listed


def test_the_ngrams_listed_are_those_langdetect_lists() -> None:
    detector_factory.init_factory()
    model = language._the_model()
    texts = [*LISTING_TEXTS, *(s for group in SENTENCES.values() for s in group)]
    rng = random.Random(3)
    words = " ".join(texts).split(" ")
    texts += [" ".join(rng.choices(words, k=rng.randint(1, 200))) for _ in range(50)]
    for text in texts:
        text = language._spread(text)  # what the detector reads of a longer text
        rows = language._listed(language._appended(text, model), model)
        # In langdetect's order, and each as often (the draws would be uniform either way).
        assert [model.gram(row) for row in rows.tolist()] == _listed_by_langdetect(text), text[:80]


def test_the_profiles_are_packed_as_langdetect_loads_them() -> None:
    detector_factory.init_factory()
    factory = detector_factory._factory
    model = language._the_model()
    columns = [factory.langlist.index(code) for code in model.languages]
    assert sorted(model.languages) == sorted(factory.langlist)
    grams = [model.gram(row) for row in range(len(model.log_rows))]
    # Every n-gram langdetect's window can hold, once (the others it never lists).
    assert sorted(grams) == sorted(g for g in factory.word_lang_prob_map if language._listable(g))
    assert len(grams) > 80_000
    expected = np.log(
        model.weight + np.array([factory.word_lang_prob_map[gram] for gram in grams])[:, columns]
    )
    assert np.allclose(model.log_rows, expected, rtol=1e-6, atol=1e-6)
    # The index finds each code at its row, and nothing at codes that are none.
    index, codes = model.index, model.codes.view(np.uint64)
    # Some codes sit in their second slot (looked up below).
    firsts = index.table[index._slots(codes, index.multipliers[0])]
    assert (firsts >> np.uint64(17) != codes).sum() > 1000
    assert (index.find(codes) == np.arange(len(codes))).all()
    others = np.random.default_rng(1).integers(0, model.codes.max() + 2, 200_000)
    others = np.concatenate((np.setdiff1d(others, model.codes), [model.radix**3, 1 << 40]))
    assert (index.find(others.view(np.uint64)) >= index.NONE).all()


def test_the_normalizer_tables_are_langdetects() -> None:
    from langdetect.utils.ngram import NGram

    model = language._the_model()
    for point in range(0x10000):
        normalized = NGram.normalize(chr(point))
        read = int(model.chars_read[point])
        known = normalized in model.chars
        assert read & 0xFFF == (model.chars.index(normalized) + 1 if known else model.other)
        assert bool(read & 1 << 40) == normalized.isupper(), hex(point)
        # Detector.cleaning_text's count, on the character before normalization.
        char = chr(point)
        latin = "A" <= char <= "z"
        other = char >= "\u0300" and not "\u1e00" <= char <= "\u1eff"
        assert (read >> 60) & 3 == (1 if latin else 2 if other else 0), hex(point)


def _reference_trial(rows: list[int], uniforms: list[float], model: language._Model) -> list[float]:
    """One trial as Detector._detect_block runs it (the mean smoothing weight, langdetect's
    own probabilities), drawing with the given uniforms: its probabilities where it ends."""
    factory = detector_factory._factory
    columns = [factory.langlist.index(code) for code in model.languages]
    prob = [1.0 / len(columns)] * len(columns)
    for i, uniform in enumerate(uniforms):
        word = model.gram(rows[int(uniform * len(rows))])
        found = factory.word_lang_prob_map[word]
        prob = [p * (model.weight + found[column]) for p, column in zip(prob, columns, strict=True)]
        if i % 5 == 0:
            total = sum(prob)
            prob = [p / total for p in prob]
            if max(prob) > model.conv_threshold or i >= model.iteration_limit:
                return prob
    raise AssertionError("no end")


def test_the_trials_are_langdetects_trials() -> None:
    detector_factory.init_factory()
    model = language._the_model()
    texts = [
        SAMPLES[0],
        SAMPLES[8],
        " ".join(SENTENCES["pt"]),
        f"{SENTENCES['fr'][0]} {SENTENCES['it'][0]}",  # long trials
        f"{SENTENCES['cs'][0]} {SENTENCES['sk'][0]} {SENTENCES['pl'][1]}",
        "ok ok ok",
        "ab",
    ]
    leaders = set()
    for text in texts:
        rows = language._listed(language._appended(text, model), model)
        trials = language._run(rows, model.uniforms, model)
        assert len(trials) == model.trials
        for trial, uniforms in zip(trials, model.uniforms, strict=True):
            expected = _reference_trial(rows.tolist(), uniforms.tolist(), model)
            assert np.allclose(trial, expected, rtol=1e-3, atol=1e-9), text[:80]
            leaders.add(trial.index(max(trial)))
    assert len(leaders) > 3  # texts in several languages


@pytest.mark.parametrize("first", [1, 3, 16, 40, 201])
def test_the_batches_change_nothing(first: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # Trials run in batches of check points; a batch of any size (the state carried over
    # from one to the next) ends each trial at the same place.
    model = language._the_model()
    texts = [SAMPLES[0], SAMPLES[10], f"{SENTENCES['fr'][0]} {SENTENCES['it'][0]}", "ok ok ok"]
    runs = [language._run(language._listed(text, model), model.uniforms, model) for text in texts]
    monkeypatch.setattr(language, "_FIRST_BATCH", first)
    for text, trials in zip(texts, runs, strict=True):
        again = language._run(language._listed(text, model), model.uniforms, model)
        assert np.allclose(again, trials, rtol=1e-9, atol=1e-12), (first, text[:80])


def test_no_ngram_no_answer() -> None:
    for text in ["", " ", "123 456", "!!! ???", "\U0001f600 \U0001f601", "\u2014\u2026 \u00bb"]:
        assert _langdetect(text)[0] is None  # langdetect: no features in the text
        assert language.language_probabilities(text) is None, repr(text)
        assert language.detect(text) is None
    assert language.detect("a") is not None  # one known letter is something to go by


def test_the_trials_stop_early_only_when_they_agree_decisively() -> None:
    model = language._the_model()
    clear = " ".join(SENTENCES["fr"] * 3)
    trials = language._trials_of(clear, model)
    assert trials is not None and len(trials) == language._MIN_TRIALS
    assert all(max(trial) > language._DECISIVE for trial in trials)
    assert {trial.index(max(trial)) for trial in trials} == {model.languages.index("fr")}
    # A text split between two languages: the trials disagree or hesitate, and all run.
    mixed = f"{SENTENCES['fr'][0]} {SENTENCES['it'][0]}"
    trials = language._trials_of(mixed, model)
    assert trials is not None and len(trials) == model.trials
    for ran in range(language._MIN_TRIALS, model.trials):
        assert not language._decisive(trials[:ran])


def test_the_early_exit_only_leaves_trials_out(monkeypatch: pytest.MonkeyPatch) -> None:
    # Stopping early drops the later trials and changes none of those that ran.
    model = language._the_model()
    for text in [*SAMPLES[:12], *(s for group in SENTENCES.values() for s in group[:1])]:
        early = language._trials_of(text, model)
        with monkeypatch.context() as patch:
            patch.setattr(language, "_DECISIVE", 2.0)  # never decisive: all trials run
            every = language._trials_of(text, model)
        if early is None:
            assert every is None
            continue
        assert every is not None and len(every) == model.trials
        assert early == every[: len(early)]
        stopped = len(early) < model.trials
        assert stopped == any(
            language._decisive(every[:ran]) for ran in range(language._MIN_TRIALS, model.trials)
        )


def test_a_long_text_is_read_in_windows_of_whole_words() -> None:
    words = [f"w{n}" for n in range(2000)]
    text = " ".join(words)
    read = language._spread(text)
    assert len(read) <= language._MAX_CHARS
    assert read.split(" ")[0] == "w0" and read.split(" ")[-1] == words[-1]
    assert set(read.split(" ")) <= set(words)  # no word cut in two
    # Windows spread over the text, not only its start.
    assert set(read.split(" ")) & set(words[900:1100])
    short = "Un texte court reste entier."
    assert language._spread(short) == short
    cjk = "这是一个中文句子" * 500  # no spaces: cut anywhere
    assert len(language._spread(cjk)) <= language._MAX_CHARS


def test_deterministic() -> None:
    texts = [SAMPLES[0], SENTENCES["de"][0], " ".join(SENTENCES["ru"] * 30)]
    first = [language.language_probabilities(text) for text in texts]
    assert [language.language_probabilities(text) for text in reversed(texts)] == first[::-1]
    assert detect_language(texts[0]) == "en"
