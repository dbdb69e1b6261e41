"""zh-CN say rules, table-driven; expectations are the spoken Chinese (catalog texts)."""
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from fsapp import say
from fsapp.sounds import Catalog

CATALOG = Catalog.load(Path(__file__).resolve().parents[2] / "sounds" / "catalog.yaml")


def spoken(kind, value, **opts):
    return CATALOG.spoken(say.render("zh-CN", kind, value, **opts), "zh-CN")


@pytest.mark.parametrize("value, text", [
    (0, "零"), (1, "一"), (2, "二"), (10, "十"), (11, "十一"), (12, "十二"), (20, "二十"),
    (22, "二十二"), (99, "九十九"), (100, "一百"), (101, "一百零一"), (110, "一百一十"),
    (111, "一百一十一"), (200, "两百"), (222, "两百二十二"), (1000, "一千"), (1001, "一千零一"),
    (1010, "一千零一十"), (1100, "一千一百"), (1200, "一千两百"), (2000, "两千"), (9999, "九千九百九十九"),
    (10000, "一万"), (10001, "一万零一"), (10010, "一万零一十"), (10100, "一万零一百"),
    (11000, "一万一千"), (20000, "两万"), (22000, "两万两千"), (100000, "十万"),
    (120000, "十二万"), (1000000, "一百万"), (1010000, "一百零一万"), (10000000, "一千万"),
    (100000000, "一亿"), (100000001, "一亿零一"), (100010000, "一亿零一万"), (100020000, "一亿零两万"),
    (110000000, "一亿一千万"), (200000000, "两亿"), (1000000000, "十亿"),
    (1000010000, "十亿零一万"), (123456789, "一亿两千三百四十五万六千七百八十九"),
    (1000000000000, "一万亿"), (1000100000000, "一万零一亿"), (2000000000000, "两万亿"),
    (-5, "负五"), (-10010, "负一万零一十"),
    ("0.5", "零点五"), ("0.05", "零点零五"), ("1.10", "一点一零"), (1.1, "一点一"),
    (Decimal("-12.05"), "负十二点零五"), ("3.14159", "三点一四一五九"), ("-0", "零"),
])
def test_number(value, text):
    assert spoken("number", value) == text


@pytest.mark.parametrize("value, text", [(200, "二百"), (2000, "二千"), (20000, "二万"), (222, "二百二十二")])
def test_number_formal_er(value, text):
    assert spoken("number", value, liang=False) == text


def test_money_names_match_the_documented_example():
    assert say.render("zh-CN", "money", "123.45") == [
        "say/zh/1", "say/zh/bai", "say/zh/2", "say/zh/shi", "say/zh/3", "say/zh/yuan",
        "say/zh/4", "say/zh/jiao", "say/zh/5", "say/zh/fen"]


@pytest.mark.parametrize("value, text", [
    ("123.45", "一百二十三元四角五分"), ("100.05", "一百元零五分"), ("100.50", "一百元五角"),
    ("100", "一百元"), (0, "零元"), ("0.05", "五分"), ("0.5", "五角"), ("0.25", "两角五分"),
    ("1.05", "一元零五分"), ("10.05", "十元零五分"), ("1000.5", "一千元五角"),
    ("1005.05", "一千零五元零五分"), ("2", "两元"), ("2.22", "两元两角二分"), ("12", "十二元"),
    ("102", "一百零二元"), ("20000.02", "两万元零二分"), ("-3.2", "负三元两角"),
    ("12.345", "十二元三角五分"), ("12.344", "十二元三角四分"), (Decimal("88.8"), "八十八元八角"),
])
def test_money_cny(value, text):
    assert spoken("money", value) == text


@pytest.mark.parametrize("value, text", [("100", "一百元整"), ("100.5", "一百元五角整"),
                                         ("100.05", "一百元零五分"), ("0", "零元整")])
def test_money_zheng(value, text):
    assert spoken("money", value, zheng=True) == text


@pytest.mark.parametrize("value, text", [("123.45", "一百二十三美元四十五美分"), ("0.05", "五美分"),
                                         ("3", "三美元")])
def test_money_usd(value, text):
    assert spoken("money", value, currency="USD") == text


@pytest.mark.parametrize("value, opts, text", [
    ("13800138000", {}, "幺三八零零幺三八零零零"),
    ("13800138000", {"yao": False}, "一三八零零一三八零零零"),
    ("138-0013 8000", {}, "幺三八零零幺三八零零零"),
    (12345, {}, "幺二三四五"), ("0", {}, "零"), ("*1#", {}, "星号幺井号"),
])
def test_digits(value, opts, text):
    assert spoken("digits", value, **opts) == text


@pytest.mark.parametrize("value, opts, text", [
    ("2026-11-28", {}, "二零二六年十一月二十八日星期六"),
    (dt.date(2026, 1, 1), {}, "二零二六年一月一日星期四"),
    (dt.datetime(2000, 12, 31, 23, 0), {}, "二零零零年十二月三十一日星期日"),
    ("2026-02-02", {"weekday": False}, "二零二六年二月二日"),
    ("2026-10-20", {"year": False, "weekday": False}, "十月二十日"),
])
def test_date(value, opts, text):
    assert spoken("date", value, **opts) == text


@pytest.mark.parametrize("value, opts, text", [
    ("15:05", {}, "下午三点零五分"), ("15:00", {}, "下午三点"), ("14:30", {}, "下午两点三十分"),
    ("00:30", {}, "凌晨零点三十分"), ("05:59", {}, "凌晨五点五十九分"), ("06:00", {}, "早上六点"),
    ("09:10", {}, "上午九点十分"), ("12:02", {}, "中午十二点零二分"), ("18:45", {}, "晚上六点四十五分"),
    ("23:59:59", {}, "晚上十一点五十九分"), (dt.time(2, 0), {}, "凌晨两点"),
    ("15:05", {"clock": 24}, "十五点零五分"), ("22:00", {"clock": 24}, "二十二点"),
    ("00:00", {"clock": 24}, "零点"),
])
def test_time(value, opts, text):
    assert spoken("time", value, **opts) == text


@pytest.mark.parametrize("value, text", [(1, "第一"), (2, "第二"), (10, "第十"), (11, "第十一"),
                                         (200, "第二百"), (0, "第零")])
def test_ordinal(value, text):
    assert spoken("ordinal", value) == text
