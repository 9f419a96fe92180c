"""Masking of personal data (common.privacy): tables of real-looking cases.

Fails closed: whatever looks like a phone number or an address is masked even
when the parser does not recognise it; the table of non-personal text says
what must stay readable for ops (order numbers, dates, prices, FAQ questions).
"""
from __future__ import annotations

import re

import pytest

from common.privacy import looks_personal, mask_address, mask_name, mask_phone, mask_text

RAW_PHONE_DIGITS = re.compile(r"1[3-9]\d{9}")


# (text, raw fragments that must be gone, fragments that must stay)
PHONES = [
    ("13800138000", ["0013"], ["138****8000"]),
    ("我的手机 138 0013 8000 谢谢", ["0013"], ["138****8000", "我的手机", "谢谢"]),
    ("电话138-0013-8000", ["0013"], ["138****8000"]),
    ("+86 13912345678", ["1234"], ["139****5678"]),
    ("+8613912345678", ["1234"], ["139****5678"]),
    ("(+86)139 1234 5678", ["1234"], ["139****5678"]),
    ("008613912345678", ["1234"], ["139****5678"]),
    ("8613912345678", ["1234"], ["139****5678"]),
    ("手机：１３９１２３４５６７８", ["１２３４"], ["139****5678"]),  # full-width digits
    ("１３９－１２３４－５６７８", ["１２３４"], ["139****5678"]),
    ("号码是15012345678，收件人张三", ["1234"], ["150****5678", "收件人张三"]),
    ("打12800001111试试", ["0000"], ["128****1111"]),  # not a valid prefix, still a phone's shape
    ("座机010-12345678", ["12345678", "1234"], ["010-****78"]),
    ("0571-8888 6666转123", ["8888"], ["0571-****66"]),
    ("(021)61234567", ["6123"], ["021-****67"]),
]

IDS_AND_MAILS = [
    ("身份证110101199003071234", ["19900307"], ["110", "1234"[-1]]),
    ("身份证号 44030419851231002X 请核对", ["19851231"], ["440", "X 请核对"]),
    ("老身份证 110101900307123", ["900307"], ["110"]),
    ("邮箱 zhang.san@example.com", ["zhang.san"], ["z***@example.com"]),
    ("发到 a_b-c+d@mail.qq.com 就行", ["a_b-c+d"], ["a***@mail.qq.com", "就行"]),
]

ADDRESSES = [
    ("北京市朝阳区望京SOHO塔3-1502", ["望京", "SOHO", "1502"], ["北京市朝阳区"]),
    ("上海市浦东新区张江路88号3楼", ["张江", "88"], ["上海市浦东新区"]),
    ("浙江省杭州市西湖区文三路100号", ["文三路", "100"], ["浙江省杭州市西湖区"]),
    ("我家地址是广东省深圳市南山区科技园科苑路15号", ["科苑路", "15号"], ["我家地址是广东省深圳市南山区"]),
    ("寄到江苏省苏州市工业园区星湖街328号吧", ["星湖街", "328"], ["寄到江苏省苏州市"]),
    ("四川成都武侯区人民南路四段1号", ["人民南路", "四段"], ["四川成都武侯区"]),
    ("广州市天河区体育西路191号中石化大厦B座2208室", ["体育西路", "2208", "中石化"], ["广州市天河区"]),
    ("杭州西湖区文三路", ["文三路"], ["杭州西湖区"]),
    ("湖北省武汉市洪山区珞喻路1037号华中科技大学", ["珞喻路", "1037", "华中"], ["湖北省武汉市洪山区"]),
    ("新疆维吾尔自治区乌鲁木齐市天山区解放南路8号", ["解放南路"], ["新疆维吾尔自治区乌鲁木齐市天山区"]),
    ("内蒙古呼和浩特市新城区新华大街1号", ["新华大街"], ["内蒙古呼和浩特市新城区"]),
    ("上海市黄浦区南京东路步行街", ["南京东路", "步行街"], ["上海市黄浦区"]),
    ("北京市海淀区中关村大街27号", ["中关村", "27"], ["北京市海淀区"]),
    ("北京市朝阳区望京街道阜通东大街6号院3号楼1单元1502", ["阜通", "1502", "单元"], ["北京市朝阳区"]),
    # detail only, no region: everything goes
    ("望京SOHO塔3-1502", ["望京", "1502"], []),
    ("幸福小区7栋2单元302室", ["幸福", "302"], []),
    ("长乐路1200弄5号", ["长乐路", "1200"], []),
    ("3-1502", ["1502"], []),
    ("1502室", ["1502"], []),
    ("华润大厦", ["华润"], []),
    # inside a sentence, with the phone in the same message
    ("收件人李四 13800138000 地址上海市徐汇区漕溪北路398号汇智大厦12层", ["0013", "漕溪", "398", "汇智"],
     ["138****8000", "上海市徐汇区", "收件人李四"]),
    ("你好快递寄上海市浦东新区张江路88号", ["张江", "88"], ["上海市浦东新区"]),
    ("我住在北京市朝阳区望京SOHO塔3-1502，快递什么时候到", ["望京", "1502"], ["北京市朝阳区", "快递什么时候到"]),
    ("改地址：杭州市余杭区五常街道文一西路969号", ["文一西路", "969"], ["杭州市余杭区", "改地址"]),
    ("ＸＸ路１００号", ["１００", "100"], []),  # full-width digits in the detail
    ("寄到文三路一百号", ["文三路", "一百"], ["寄到"]),  # house number in Chinese numerals
    ("幸福里五栋三单元", ["幸福", "五栋"], []),
]

# Fails closed: address-shaped strings nothing recognises as a region or road name.
UNRECOGNISED = [
    "某某村三组老槐树下第三家",
    "光明里7号楼2门401",
    "锦绣江南花园东区12-301",
    "下沙高教园区6号",
    "幸福家园北区5栋",
]

NOT_PERSONAL = [
    "我的订单号是2026112400012345，什么时候发货",  # order number: 16 digits
    "快递单号SF1234567890123",                     # tracking number
    "券码 QH-20261124-8812",
    "满99包邮吗",
    "2026-11-24 下单的",
    "11月5号能到吗",
    "我不知道怎么用",
    "快递还在路上吗",
    "会员中心在哪里看积分",
    "我在杭州市西湖区",   # a region alone names no one
    "上海发货吗",
    "客服热线 400-820-8820",
    "价格100-200元的面霜",
    "这个精华30ml多少钱",
    "敏感肌能用吗",
    "直播几点开始",
    "第3-5天有效",
    "面霜要涂一层还是两层",
    "一楼的专柜有货吗",
]


@pytest.mark.parametrize("text,gone,kept", PHONES + IDS_AND_MAILS + ADDRESSES)
def test_personal_data_is_masked_and_useful_parts_stay(text, gone, kept):
    masked = mask_text(text)
    for fragment in gone:
        assert fragment not in masked, (text, masked)
    for fragment in kept:
        assert fragment in masked, (text, masked)
    assert not RAW_PHONE_DIGITS.search(masked)
    assert looks_personal(text)


@pytest.mark.parametrize("text", UNRECOGNISED)
def test_address_like_text_the_parser_does_not_know_is_still_masked(text):
    masked = mask_text(text)
    assert masked != text
    assert not re.search(r"\d{2,}", masked), masked  # no house or room number survives
    assert mask_address(text) == "***"


@pytest.mark.parametrize("text", NOT_PERSONAL)
def test_text_without_personal_data_stays_readable(text):
    assert mask_text(text) == text
    assert not looks_personal(text)


@pytest.mark.parametrize("text,gone,kept", PHONES + IDS_AND_MAILS + ADDRESSES)
def test_masking_is_idempotent(text, gone, kept):
    once = mask_text(text)
    assert mask_text(once) == once


@pytest.mark.parametrize("address,expected", [
    ("北京市朝阳区望京SOHO塔3-1502", "北京市朝阳区***"),  # the case that used to leak
    ("上海市浦东新区张江路88号3楼", "上海市浦东新区***"),
    ("浙江省杭州市西湖区文三路100号", "浙江省杭州市西湖区***"),
    ("望京SOHO塔3-1502", "***"),
    ("某个我们不认识的地方", "***"),
    ("浙江省", "浙江省"),
    ("杭州市", "杭州市"),
    ("", ""),
    ("北京市朝阳区***", "北京市朝阳区***"),
])
def test_mask_address_keeps_only_the_region(address, expected):
    assert mask_address(address) == expected


@pytest.mark.parametrize("name,expected", [("张三", "张*"), ("欧阳娜娜", "欧***"), ("Li", "L*"), ("", "")])
def test_mask_name_keeps_the_first_character(name, expected):
    assert mask_name(name) == expected


def test_mask_phone_only_touches_phone_numbers():
    assert mask_phone("电话 138 0013 8000，地址文三路100号") == "电话 138****8000，地址文三路100号"
    assert mask_phone("") == ""


@pytest.mark.parametrize("slot,value", [
    ("recipient_phone", "手机 138-0013-8000"), ("recipient_phone", "一三八零零一三八零零零"),
    ("recipient_phone", "1381234567"), ("recipient_name", "王小明"), ("address_detail", "文三路100号"),
    ("address_province", "浙江省杭州市西湖区文三路100号"), ("address_city", "杭州"),
])
def test_slot_masks_are_idempotent_and_hide_the_raw_value(slot, value):
    from common.privacy import mask_slot
    once = mask_slot(slot, value)
    assert mask_slot(slot, once) == once
    assert not re.search(r"0013|零零|小明|文三|1234", once), once


def test_log_records_are_masked_whoever_logs_them(caplog):
    import logging
    from common.privacy import install_log_masking
    install_log_masking()
    install_log_masking()  # idempotent
    log = logging.getLogger("some.library")
    with caplog.at_level(logging.INFO):
        log.info("user said %r", "寄到北京市朝阳区望京SOHO塔3-1502 电话13800138000")
        try:
            raise ValueError("bad phone 13912345678")
        except ValueError:
            log.exception("failed for %s", "文三路100号")
    text = caplog.text
    assert "望京" not in text and "13800138000" not in text and "13912345678" not in text and "文三路" not in text
    assert "北京市朝阳区***" in text and "138****8000" in text and "139****5678" in text


def test_no_training_example_of_the_bot_is_taken_for_personal_data():
    # what consumers really ask must stay readable in the inbox and the tracker
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[2]
    examples = []
    for path in sorted((root / "data" / "nlu").glob("*.yml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu") or []:
            for line in (item.get("examples") or "").splitlines():
                text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", line.strip().removeprefix("- "))
                if text:
                    examples.append(text)
    assert len(examples) > 500
    assert [t for t in examples if mask_text(t) != t] == []
