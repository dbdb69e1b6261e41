"""Properties of the say engine over many generated values:
- every prompt name it produces exists in sounds/catalog.yaml for that language;
- integers survive a round trip: render, then parse the words back, up to 10^12;
- Mandarin zero rules hold: never two 零 in a row, never a trailing 零, no leading 一十.
The parsers below are deliberately written from the languages' grammar, not from the
engine's code, so the two can disagree."""
import datetime as dt
from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings, strategies as st

from fsapp import say
from fsapp.sounds import Catalog

CATALOG = Catalog.load(Path(__file__).resolve().parents[2] / "sounds" / "catalog.yaml")
LANGS = ["zh-CN", "en-US"]
INTS = st.integers(min_value=0, max_value=10 ** 12)
MONEY = st.decimals(min_value=Decimal("-99999999.99"), max_value=Decimal("99999999.99"), places=2)
DECIMALS = st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=4,
                       allow_nan=False, allow_infinity=False)

ZH_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
             "八": 8, "九": 9}
ZH_SMALL_UNITS = {"十": 10, "百": 100, "千": 1000}


def parse_zh(text: str) -> int:
    """Chinese numeral (as spoken) to int: 一万零一亿 -> 1000100000000."""
    total, section, digit = 0, 0, None
    for ch in text:
        if ch in ZH_DIGITS:
            digit = ZH_DIGITS[ch]
        elif ch in ZH_SMALL_UNITS:
            section += (1 if digit is None else digit) * ZH_SMALL_UNITS[ch]
            digit = None
        elif ch == "万":
            section = (section + (digit or 0)) * 10 ** 4
            digit = None
        elif ch == "亿":
            total = (total + section + (digit or 0)) * 10 ** 8
            section, digit = 0, None
        else:
            raise AssertionError(f"unexpected {ch!r} in {text!r}")
    return total + section + (digit or 0)


EN_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen".split())}
EN_WORDS.update({w: 10 * i for i, w in enumerate(
    "twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2)})
EN_SCALES = {"thousand": 10 ** 3, "million": 10 ** 6, "billion": 10 ** 9, "trillion": 10 ** 12}


def parse_en(text: str) -> int:
    total, group = 0, 0
    for word in text.split():
        if word in EN_WORDS:
            group += EN_WORDS[word]
        elif word == "hundred":
            group *= 100
        elif word in EN_SCALES:
            total += group * EN_SCALES[word]
            group = 0
        else:
            raise AssertionError(f"unexpected {word!r} in {text!r}")
    return total + group


def assert_in_catalog(names, lang):
    assert names, "the say engine produced nothing"
    assert CATALOG.missing(names, [lang]) == []


@settings(max_examples=300, deadline=None)
@given(INTS)
def test_zh_integers_round_trip(n):
    names = say.render("zh-CN", "number", n)
    assert_in_catalog(names, "zh-CN")
    text = CATALOG.spoken(names, "zh-CN")
    assert parse_zh(text) == n
    assert "零零" not in text
    assert n == 0 or not text.endswith("零")
    assert not text.startswith("一十")


@settings(max_examples=300, deadline=None)
@given(INTS)
def test_en_integers_round_trip(n):
    names = say.render("en-US", "number", n)
    assert_in_catalog(names, "en-US")
    assert parse_en(CATALOG.spoken(names, "en-US")) == n


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(LANGS), DECIMALS)
def test_decimals_use_catalog_prompts(lang, value):
    assert_in_catalog(say.render(lang, "number", value), lang)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(LANGS), MONEY, st.sampled_from(["CNY", "USD"]))
def test_money_uses_catalog_prompts(lang, value, currency):
    assert_in_catalog(say.render(lang, "money", value, currency=currency), lang)


@settings(max_examples=200, deadline=None)
@given(MONEY.filter(lambda v: v >= 0))
def test_zh_money_reads_back_the_amount(value):
    text = CATALOG.spoken(say.render("zh-CN", "money", value), "zh-CN")
    yuan, _, rest = text.partition("元") if "元" in text else ("零", "", text)
    jiao = fen = 0
    if "角" in rest:
        head, _, rest = rest.partition("角")
        jiao = parse_zh(head)
    if "分" in rest:
        fen = parse_zh(rest.replace("分", "").lstrip("零") or "零")
    assert parse_zh(yuan) * 100 + jiao * 10 + fen == int(value * 100)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(LANGS), st.dates(min_value=dt.date(1000, 1, 1)), st.booleans(), st.booleans())
def test_dates_use_catalog_prompts(lang, day, weekday, year):
    assert_in_catalog(say.render(lang, "date", day, weekday=weekday, year=year), lang)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(LANGS), st.times(), st.sampled_from([12, 24]))
def test_times_use_catalog_prompts(lang, moment, clock):
    assert_in_catalog(say.render(lang, "time", moment, clock=clock), lang)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(LANGS), st.text(alphabet="0123456789*#", min_size=1, max_size=20))
def test_digits_one_prompt_per_key(lang, keys):
    names = say.render(lang, "digits", keys)
    assert_in_catalog(names, lang)
    assert len(names) == len(keys)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(LANGS), INTS)
def test_ordinals_use_catalog_prompts(lang, n):
    assert_in_catalog(say.render(lang, "ordinal", n), lang)


@settings(max_examples=100, deadline=None)
@given(INTS)
def test_en_ordinal_is_the_cardinal_with_its_last_word_changed(n):
    cardinal = say.render("en-US", "number", n)
    ordinal = say.render("en-US", "ordinal", n)
    assert ordinal[:-1] == cardinal[:-1]
    assert ordinal[-1] == cardinal[-1].replace("say/en/", "say/en/ord/")
