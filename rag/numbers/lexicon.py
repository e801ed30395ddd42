"""The tables (currencies, scales, numerals, months) and the compiled patterns numbers are found by."""

from __future__ import annotations

import re

# ---- lexicon ---------------------------------------------------------------------------------

# A space inside an amount: Refinitiv transcripts hard-wrap lines, so "$27\nmillion" is one amount.
_SP = r"(?:[ \u00a0\t]|\r?\n)"
_CUR_SYMBOLS = {"US$": "USD", "U.S.$": "USD", "$": "USD", "HK$": "HKD", "A$": "AUD", "C$": "CAD",
                "S$": "SGD", "NT$": "TWD", "R$": "BRL", "€": "EUR", "£": "GBP", "₹": "INR",
                # ¥ is read as renminbi: this corpus is Chinese; yen is written 日元 or JPY here.
                "¥": "CNY", "￥": "CNY", "人民币": "CNY"}
_CUR_CODES = ("USD", "RMB", "CNY", "EUR", "GBP", "JPY", "HKD", "DKK", "SEK", "NOK", "CHF", "CAD",
              "AUD", "INR", "TWD", "SGD")
_CUR_WORDS = {"美元": "USD", "美金": "USD", "元人民币": "CNY", "人民币": "CNY", "元": "CNY",
              "港元": "HKD", "港币": "HKD", "欧元": "EUR", "日元": "JPY", "英镑": "GBP",
              "丹麦克朗": "DKK", "加元": "CAD", "澳元": "AUD", "韩元": "KRW", "新台币": "TWD",
              "瑞士法郎": "CHF", "dollar": "USD", "dollars": "USD", "euro": "EUR", "euros": "EUR",
              "yuan": "CNY", "renminbi": "CNY", "kroner": "DKK", "yen": "JPY", "RMB": "CNY"}
_CUR_PREFIX = (r"(?:U\.S\.\$|US\$|HK\$|NT\$|A\$|C\$|S\$|R\$|\$|€|£|¥|￥|₹|人民币|(?<![A-Za-z])(?:"
               + "|".join(_CUR_CODES) + r")(?![A-Za-z]))")
_NUM = r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?"
_HEAD = (rf"(?P<sign>[-−+])?(?:(?P<cur>{_CUR_PREFIX}){_SP}?(?P<csign>[-−+])?)?(?<![0-9])"
         rf"(?P<num>{_NUM})")

_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
              "七": 7, "八": 8, "九": 9}
_ZH_UNITS = {"十": 10, "百": 100, "千": 1000}
_ZH_SCALES = {"百": 100, "千": 1000, "万": 10**4, "亿": 10**8, "萬": 10**4, "億": 10**8}
_EN_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12, "k": 10**3,
              "m": 10**6, "mm": 10**6, "mn": 10**6, "mln": 10**6, "b": 10**9, "bn": 10**9,
              "bln": 10**9, "t": 10**12, "tn": 10**12, "trn": 10**12}
_EN_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen".split())}
_EN_WORDS.update({w: 10 * i for i, w in enumerate(
    "twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2)})
_EN_DENOMS = {"half": 2, "halves": 2, "third": 3, "fourth": 4, "quarter": 4, "fifth": 5,
              "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10}
_MONTHS = {m: i for i, ms in enumerate(
    ["January Jan", "February Feb", "March Mar", "April Apr", "May", "June Jun", "July Jul",
     "August Aug", "September Sept Sep", "October Oct", "November Nov", "December Dec"], start=1)
    for m in ms.split()}
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_BARE_MONTH_RE = "|".join(m for m in _MONTHS if len(m) > 3 and m != "May")  # "May" is a verb too
_EN_WORD_RE = "|".join(sorted(_EN_WORDS, key=len, reverse=True))
_ZHN = "零〇一二两三四五六七八九十百千万亿"
_ZH_UNIT_AHEAD = r"倍|[个個]?百分[点點]|[个個]?基[点點]|%|美元|港元|欧元|元|成|多[万亿]|[百千万亿]"
# Lone 2..9 or 十 count only before a measure word ("九个", "三年"); a lone 一 is almost always "a".
_ZH_MEASURE = r"[个個年家位名次颗台款项种条只件张座所份天周轮部辆艘层]"

# ---- one pass over the text: the leftmost candidate wins, then its handler reads the context ----

_MASTER = re.compile("|".join([
    r"(?P<cite>\[[0-9]{1,3}(?:[,，、]" + _SP + r"?[0-9]{1,3})*\]|【[0-9]{1,3}】)",
    r"(?P<time>(?<![0-9])[0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:" + _SP
    + r"?[ap]\.?m\.?)?|(?<![0-9])[0-9]{1,2}" + _SP + r"?[ap]\.m\.)",
    r"(?P<iso>(?<![0-9])(?P<iy>(?:19|20)[0-9]{2})(?P<isep>[-/.])(?P<im>[0-9]{1,2})(?P=isep)"
    r"(?P<id>[0-9]{1,2})(?![0-9]))",
    r"(?P<usdate>(?<![0-9/])(?P<um>[0-9]{1,2})/(?P<ud>[0-9]{1,2})/(?P<uy>[0-9]{4}|[0-9]{2})(?![0-9]))",
    r"(?P<digfrac>(?<![0-9/.])(?P<fa>[1-9])/(?P<fb>10|[2-9])(?![0-9/]))",
    r"(?P<zhdate>(?<![0-9])(?:(?P<zy>[0-9]{4})" + _SP + r"?年" + _SP + r"?)?(?P<zm>[0-9]{1,2})" + _SP
    + r"?月(?:" + _SP + r"?(?P<zd>[0-9]{1,2})" + _SP + r"?[日号])?)",
    rf"(?P<mdy>\b(?P<mon>{_MONTH_RE})\b\.?{_SP}+(?:(?P<mday>[0-9]{{1,2}})(?:st|nd|rd|th)?(?![0-9]|\.[0-9]|,[0-9]{{3}}(?![0-9]))"
    rf"(?:,?{_SP}+(?P<myear>(?:19|20)[0-9]{{2}})(?![0-9]))?|(?P<myear2>(?:19|20)[0-9]{{2}})(?![0-9])))",
    rf"(?P<dmy>(?<![0-9.,])(?P<dday>[0-9]{{1,2}})(?:st|nd|rd|th)?{_SP}+(?P<dmon>{_MONTH_RE})\b\.?"
    rf"(?:,?{_SP}+(?P<dyear>(?:19|20)[0-9]{{2}})(?![0-9]))?)",
    rf"(?P<bmonth>\b(?:{_BARE_MONTH_RE})\b)",
    r"(?P<fy>\bFY" + _SP + r"?['’]?(?P<fyn>[0-9]{4}|[0-9]{2})(?![0-9])(?P<fyq>Q[1-4])?)",
    r"(?P<apyear>(?<![A-Za-z0-9])['’](?P<apn>[0-9]{2})(?![0-9%A-Za-z]))",
    r"(?P<zhpct>(?P<zpb>[百千])分之(?P<zpn>[" + _ZHN + r"点]+|[0-9]+(?:\.[0-9]+)?))",
    r"(?P<zhfrac>(?P<zfd>[一二两三四五六七八九十百0-9]+)分之(?P<zfn>[一二两三四五六七八九十0-9]+))",
    r"(?P<zhhalf>一半|半数)",
    r"(?P<zhdouble>翻了?(?:(?P<zdn>[一两])?番|倍))",
    r"(?P<zh>[一二两三四五六七八九十][" + _ZHN + r"]+(?:点[零〇一二三四五六七八九]+)?"
    r"|[一二两三四五六七八九十](?:点[零〇一二三四五六七八九]+)?(?=" + _SP + r"?(?:" + _ZH_UNIT_AHEAD
    + r"))|[二两三四五六七八九十](?=" + _ZH_MEASURE + r"|月)|一(?=月))",
    rf"(?P<head>{_HEAD})",
]))
_HEAD_RE = re.compile(_HEAD)

# English number words only matter next to a few anchor words ("two percentage points", "one
# third", "half"), so they are looked for around those anchors in ASCII-lowercased text instead of
# at every position: scanning English prose for "one", "two", "a"... costs more than all the rest.
_EN_ANCHOR = re.compile(r"b(?:asis|illion)|f(?:old|ourths?|ifths?)|hal(?:f|ves)|million|percent"
                        r"|quarters?|s(?:ixths?|evenths?)|t(?:imes|housand|rillion|hirds?|enths?)"
                        r"|eighths?|ninths?")
_EN = re.compile("|".join([
    r"(?P<halfunit>\bhalf" + _SP + r"+(?:a|one)" + _SP
    + r"+(?P<hu>percentage[ \u00a0-]point|point|percent)\b)",
    r"(?P<enfrac>\b(?P<efn>one|two|three|four|five|six|seven|eight|nine|a)(?P<efs>[ \u00a0-])"
    r"(?P<efd>halves|half|thirds?|fourths?|quarters?|fifths?|sixths?|sevenths?|eighths?|ninths?"
    r"|tenths?)\b)",
    r"(?P<half>\bhalf\b)",
    r"(?P<enfold>\b(?P<efw>two|three|four|five|ten)fold\b)",
    rf"(?P<enword>\b(?P<ew>(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)-"
    rf"(?:one|two|three|four|five|six|seven|eight|nine)|{_EN_WORD_RE})(?=[ \u00a0-]+(?:percent|per"
    rf" cent|percentage|basis|times|fold|thousand|million|billion|trillion)\b))",
]))
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# Every alternative of _MASTER starts with one of these characters; finding them is a fast scan
# in C, and _MASTER is then only tried where one stands (a dozen alternatives at every position of
# a 60 KB transcript would cost ~100 ms).
_TRIGGER = re.compile("[0-9\\[【'’$€£¥￥₹\\-−+人一二两三四五六七八九十百千半翻" + "".join(sorted(
    {c[0] for c in _CUR_CODES} | {k[0] for k in _CUR_SYMBOLS if k[0].isascii()}
    | {m[0] for m in _MONTHS} | {"F"})) + "]")

_MORE = re.compile(r"[多余]")
_ZH_SCALE = re.compile(_SP + r"?([百千]?万亿|[百千]?[万亿萬億]|[百千])")
# Python's \b counts CJK characters as word characters: "$516 million以" (machine translations mix
# scripts) would lose its scale, so English words end where no ASCII letter or digit follows.
_EN_SCALE = re.compile(r"(?i:" + _SP + r"*(thousand|million|billion|trillion)s?(?![A-Za-z0-9])|" + _SP
                       + r"?(bn|bln|mn|mln|tn|trn)(?![A-Za-z0-9]))|(MM|[kKmMbBT])(?![A-Za-z0-9])")
_CUR_SUFFIX = re.compile(_SP + r"?(?:(" + "|".join(sorted(
    (w for w in _CUR_WORDS if not w.isascii()), key=len, reverse=True)) + r")|(?i:\b(dollars?|euros?|"
    r"yuan|renminbi|kroner|yen))(?![A-Za-z0-9])|\b(" + "|".join(_CUR_CODES) + r")(?![A-Za-z0-9]))")
_UNIT = re.compile(
    r"(?P<pp>" + _SP + r"?[个個]?百分[点點]|[ \u00a0-]?(?i:percentage[ \u00a0-]points?|pct\.?"
    + _SP + r"?pts?|ppts?|pp|pts?|points?)(?![A-Za-z0-9]))"
    r"|(?P<bp>" + _SP + r"?[个個]?基[点點]|[ \u00a0-]?(?i:basis[ \u00a0-]points?|bps|bp)(?![A-Za-z0-9]))"
    r"|(?P<pct>" + _SP + r"?%|[ \u00a0-]?(?i:percent|per" + _SP + r"cent|pct)(?![A-Za-z0-9]))"
    r"|(?P<mult>" + _SP + r"?倍|[xX×](?![A-Za-z0-9])|" + _SP + r"×|[ \u00a0-]?(?i:times|fold)(?![A-Za-z0-9]))"
    r"|(?P<ord>(?:st|nd|rd|th)(?![A-Za-z0-9]))"
    r"|(?P<cheng>成(?![本长功为员員交立果绩熟效就型都一不品]))")
_QUAL_AFTER = re.compile(r"(?P<over>" + _SP + r"?(?:多|余|以上|出头)|[ \u00a0-](?i:plus)\b|\+)"
                         r"|(?P<approx>" + _SP + r"?左右)|(?P<under>" + _SP + r"?以[下内])")
_QUAL_BEFORE = re.compile(
    r"(?:(?P<approx>(?i:\b(?:approximately|approximate|approx\.|about|around|roughly|nearly|almost"
    r"|close to|circa|some))" + _SP + r"+|~|≈|约|大约|大概|将近|接近|近)"
    r"|(?P<over>(?i:\b(?:over|more than|above|exceeding|at least|upwards of))" + _SP
    + r"+|超过|超|逾|高于|多于|至少)"
    r"|(?P<under>(?i:\b(?:less than|under|below|up to|fewer than))" + _SP
    + r"+|不到|不足|少于|低于))" + _SP + r"*$")
_RANGE_SEP = re.compile(r"(?P<and>" + _SP + r"*-?" + _SP + r"*(?i:and)" + _SP + r"+|" + _SP
                        + r"*[和与]" + _SP + r"*)|" + _SP + r"*-?" + _SP + r"*(?i:to)" + _SP + r"+|"
                        + _SP + r"*(?:-|–|~|〜|至|到)" + _SP + r"*")
_BETWEEN = re.compile(r"(?:(?i:\bbetween)" + _SP + r"+|介于" + _SP + r"*)$")
_ID_AFTER = re.compile(r"[A-Za-z0-9_]|-[A-Z](?![a-z])|\.[A-Z]{2}\b")
_QUARTER_AFTER = re.compile(r"[季期]|财[季年]|年度|个?季")
_ZH_VAGUE_BEFORE = "数几"  # 数十亿, 几十万: no definite number
_HALF_PERIOD_BEFORE = re.compile(r"(?i:\b(?:first|second|back|front|latter|later|this|next|last"
                                 r"|prior|previous|other|1st|2nd|a))" + _SP + r"*-?$")
_HALF_PERIOD_AFTER = re.compile(r"(?i:[ \u00a0-]*(?:years?\b|yearly|of" + _SP + r"+(?:(?:the|this"
                                r"|next|last|our|fiscal|calendar)" + _SP + r"+)*(?:year|fiscal|"
                                r"calendar|FY|'|’|[0-9])))")
_FULLWIDTH = dict(zip("０１２３４５６７８９％．＄～－＋", "0123456789%.$~-+"))
_FULLWIDTH_RE = re.compile("[" + "".join(_FULLWIDTH) + "]")
