"""A bilingual (en/zh) finance glossary: expands lexical queries across languages, so "backlog"
finds 积压订单 and 营业利润率 finds "operating margin" where dense retrieval alone misses them."""

from __future__ import annotations

import re
from functools import lru_cache

# Each row: English phrasings | Chinese phrasings. Multi-word English terms are matched as phrases.
_ROWS = """
backlog, order backlog, remaining performance obligations, rpo | 积压订单, 未交付订单, 订单积压, 剩余履约义务
revenue, revenues, sales, top line, net revenues | 营收, 收入, 营业收入, 销售额
operating margin, operating profit margin | 营业利润率, 经营利润率, 运营利润率
operating income, operating profit | 营业利润, 经营利润, 运营利润
gross margin | 毛利率
gross profit | 毛利, 毛利润
net income, net profit, earnings | 净利润, 净收入, 盈利
earnings per share, eps | 每股收益, 每股盈利
capital expenditures, capital expenditure, capex, capital spending | 资本支出, 资本开支
free cash flow | 自由现金流
cash flow | 现金流
guidance, outlook, forecast | 指引, 展望, 预期, 预测
year over year, year-over-year, yoy, compared to last year | 同比
quarter over quarter, quarter-over-quarter, sequential, sequentially, qoq | 环比
basis points, bps, basis point | 基点
percentage points, percentage point | 个百分点, 百分点
growth, grow, grew, growing, increase, increased, up | 增长, 增加, 上升, 提升
decline, declined, decrease, down | 下降, 减少, 下滑
customers, customer | 客户, 用户
chips, chip | 芯片
robots, robot, robotics | 机器人
power capacity, power, gigawatts, gigawatt | 电力容量, 电力, 吉瓦
inference | 推理
training | 训练
artificial intelligence, ai | 人工智能, ai
cloud | 云, 云端, 云计算
data center, data centers, datacenter | 数据中心
share repurchase, buyback, buybacks, repurchase | 股票回购, 回购
dividend, dividends | 股息, 分红
deferred revenue | 递延收入
retention, retention rate | 留存, 留存率
subscribers, subscriptions | 订阅用户, 订阅
price performance, price-performance | 性价比
demand | 需求
supply, capacity | 供应, 产能
advertising, ads | 广告
retail | 零售
fulfillment, fulfillment network | 履约, 履约网络
regions | 区域
applications, apps | 应用
investment, investments, invest | 投资
return on invested capital, roic | 投资资本回报
depreciation | 折旧
efficiency, efficiencies | 效率
profitability | 盈利能力
margin | 利润率
quarter, fourth quarter, q4 | 季度, 第四季度
fiscal year, full year | 财年, 全年
analyst | 分析师
"""


@lru_cache(maxsize=1)
def _table() -> tuple[dict[str, tuple[str, ...]], list[tuple[str, tuple[str, ...]]]]:
    """(term -> other-language terms, English phrases longest first)."""
    mapping: dict[str, set[str]] = {}
    phrases: dict[str, set[str]] = {}
    for row in _ROWS.strip().splitlines():
        en_part, zh_part = row.split("|")
        en = [t.strip().lower() for t in en_part.split(",") if t.strip()]
        zh = [t.strip() for t in zh_part.split(",") if t.strip()]
        for e in en:
            phrases.setdefault(e, set()).update(zh)
        for z in zh:
            mapping.setdefault(z, set()).update(en)
    frozen = {k: tuple(sorted(v)) for k, v in mapping.items()}
    ordered = sorted(((k, tuple(sorted(v))) for k, v in phrases.items()), key=lambda kv: -len(kv[0]))
    return frozen, ordered


def groups(text: str) -> list[tuple[str, ...]]:
    """For each glossary term in `text`: the term and its other-language equivalents."""
    zh_map, en_phrases = _table()
    lower = text.lower()
    out: list[tuple[str, ...]] = []
    taken = lower
    for phrase, targets in en_phrases:  # longest first; a matched phrase is not matched again inside
        if re.search(rf"(?<![a-z]){re.escape(phrase)}(?![a-z])", taken):
            out.append((phrase, *targets))
            taken = taken.replace(phrase, " ")
    for term in sorted(zh_map, key=len, reverse=True):
        if term in taken:
            out.append((term, *zh_map[term]))
            taken = taken.replace(term, " ")
    return out


def translations(text: str) -> list[str]:
    """Other-language terms for glossary terms found in `text` (English phrases or Chinese words)."""
    zh_map, en_phrases = _table()
    lower = text.lower()
    out: dict[str, None] = {}
    for phrase, targets in en_phrases:
        if re.search(rf"(?<![a-z]){re.escape(phrase)}(?![a-z])", lower):
            for t in targets:
                out.setdefault(t, None)
    for term, targets in zh_map.items():
        if term in text:
            for t in targets:
                out.setdefault(t, None)
    return list(out)


def expand(text: str) -> str:
    """`text` plus the other-language terms for its glossary terms (for lexical search)."""
    extra = translations(text)
    return text + (" " + " ".join(extra) if extra else "")
