"""A bilingual (en/zh) finance glossary: expands lexical queries across languages, so "backlog"
finds 积压订单 and 营业利润率 finds "operating margin" where dense retrieval alone misses them."""

from __future__ import annotations

import re
from functools import lru_cache

# Each row: English phrasings | Chinese phrasings. Multi-word English terms are matched as phrases.
# `~` marks a term that qualifies a measure (同比, Q4); `@` one naming a part of the business or a place.
_ROWS = """
backlog, revenue backlog, order backlog, remaining performance obligations, rpo | 积压订单, 营收积压, 未交付订单, 订单积压, 剩余履约义务
organic revenue, organic revenues, organic sales | 有机收入, 有机营收
revenue, revenues, rev, sales, top line, net revenues | 营收, 收入, 营业收入, 销售额
operating margin, operating margins, op margin, operating profit margin | 营业利润率, 经营利润率, 运营利润率
operating income, op income, operating profit | 营业利润, 经营利润, 运营利润
gross margin, gross margins, gross profit margin, gross profit percentage | 毛利率
adjusted ebitda, ebitda | 调整后ebitda, 息税折旧摊销前利润
gross profit | 毛利, 毛利润
net income, net profit, earnings | 净利润, 净收入, 盈利
earnings per share, eps, per diluted share | 每股收益, 每股盈利
capital expenditures, capital expenditure, capex, capital spending, capital additions, capital plan | 资本支出, 资本开支
free cash flow, fcf | 自由现金流
cash flow | 现金流
guidance, guide, guiding, guided, outlook, forecast, expect, expects, expected, anticipate, projecting, projected | 指引, 展望, 预期, 预测, 预计
~year over year, year-over-year, yoy, y/y, compared to last year | 同比
~quarter over quarter, quarter-over-quarter, sequential, sequentially, qoq, q/q | 环比
~basis points, bps, basis point | 基点
~percentage points, percentage point | 个百分点, 百分点
~growth, grow, grew, growing, increase, increased, up | 增长, 增加, 上升, 提升
~decline, declined, decrease, down | 下降, 减少, 下滑
customers, customer | 客户, 用户
chips, chip | 芯片
robots, robot, robotics | 机器人
power capacity, power, gigawatts, gigawatt | 电力容量, 电力, 吉瓦
inference | 推理
training | 训练
artificial intelligence, ai | 人工智能, ai
@cloud | 云, 云端, 云计算
@data center, data centers, datacenter | 数据中心
share repurchase, buyback, buybacks, repurchase | 股票回购, 回购
dividend, dividends | 股息, 分红
deferred revenue | 递延收入
retention, retention rate | 留存, 留存率
subscribers, subscriptions | 订阅用户, 订阅
price performance, price-performance | 性价比
demand | 需求
supply, capacity | 供应, 产能
@advertising, ads | 广告
@retail | 零售
fulfillment, fulfillment network | 履约, 履约网络
@regions | 区域
applications, apps | 应用
investment, investments, invest | 投资
return on invested capital, roic | 投资资本回报
depreciation | 折旧
efficiency, efficiencies | 效率
profitability | 盈利能力
margin | 利润率
~quarter | 季度
~fourth quarter, q4 | 第四季度
~fiscal year | 财年
~full year, for the year | 全年
~analyst | 分析师
shipped, shipping, ship, shipments, delivered, deliver, deliveries | 发货, 交付, 出货
launch, launched, launches, release, released | 推出, 发布
plan, plans, planned | 计划
price, prices, pricing | 价格, 定价
@business, businesses | 业务
employees, workers, staff | 员工
double, doubled, twice, two times | 翻倍, 两倍
times, fold | 倍
organic | 有机
volume, volumes, unit case volume | 销量, 单位箱销量
market share, value share | 市场份额, 份额
shopping, purchase, purchases, buy | 购物, 购买
frequency | 频率
delivery speed, delivery speeds, shipping speed | 配送速度
@grocery, groceries, fresh | 生鲜, 杂货, 日常必需品
agents, agentic, agent | 智能代理, 代理
supply chain | 供应链
consumer, consumers | 消费者, 客户
annualized, annual run rate, run rate | 年化
combined, together, in total | 合计, 总计, 合共
quick commerce | 快速商务, 即时零售
after-hours trading, after-hours, after hours, extended trading | 盘后交易, 盘后
same-day delivery, same day delivery | 当日达
@china | 中国
@india | 印度
@united states, u.s. | 美国
@europe | 欧洲
@japan | 日本
@asia | 亚洲
agreement, deal, partnership | 协议, 合作
power | 电力
advantage, advantages, edge | 优势
paid subscribers, subscribers, subscriber, subs, paid subscriptions | 付费用户, 付费订阅用户, 订阅用户, 订户
users, user, active users | 用户, 活跃用户
@cross-border, cross border | 跨境
volume, volumes, transaction volume | 交易量, 成交量, 交易额
@commercial | 商业
@global, globally, worldwide | 全球
retention rate, retention | 续班率, 续费率, 留存率
net revenue retention, net dollar retention, ndr, nrr, dollar-based net retention | 净收入留存率, 净美元留存率
dividend per share | 每股股息, 每股分红
store, stores | 门店, 商店
headcount, employees | 员工人数, 员工
@segment | 分部, 板块
cost of revenue, cost of sales, cost of goods sold, cogs | 营业成本, 销售成本
operating expenses, opex | 运营费用, 营业费用, 经营费用
research and development, r&d | 研发
sales and marketing, selling and marketing | 销售和营销, 销售及营销, 营销费用
gross bookings, bookings | 预订额, 订单额
churn | 流失, 流失率
interest income | 利息收入
net interest income, nii | 净利息收入
loans | 贷款
deposits | 存款
tax rate | 税率
share price, stock price, shares | 股价
weight loss, body weight | 体重下降, 体重
trial | 试验
~change, changed | 变化
net loss, net losses | 净亏损
~adjusted, non-gaap | 调整后, 非gaap, 非通用会计准则
~gaap | 通用会计准则
~constant currency, constant-currency, currency neutral, currency-neutral, constant exchange rates, constant exchange rate, cer | 固定汇率, 不变汇率
foreign exchange, currency, fx | 汇率, 外汇
comparable sales, comparable store sales, same-store sales, same store sales, comp sales, comps, same-restaurant sales, same restaurant sales, comparable restaurant sales | 可比销售额, 同店销售额, 同店销售
operating cash flow, cash from operations, cash flow from operations, cash from operating activities | 经营现金流, 经营活动现金流, 经营活动产生的现金
cash and cash equivalents, cash position, cash balance | 现金及现金等价物, 现金余额
annual recurring revenue, arr | 年度经常性收入, 年经常性收入
net new customers, net new customer additions, net adds, net additions | 净新增客户, 净新增, 净增
average revenue per user, arpu | 每用户平均收入
average selling price, average selling prices, asp | 平均售价
inventory, inventories | 库存, 存货
working capital | 营运资金
liquidity | 流动性
debt, borrowings | 债务, 借款
net debt | 净债务
leverage, leverage ratio, net leverage | 杠杆率, 杠杆
interest expense | 利息支出, 利息费用
depreciation and amortization | 折旧与摊销, 折旧及摊销
impairment, impairments, write-down, write-downs | 减值
restructuring | 重组
stock-based compensation, share-based compensation | 股权激励, 股份支付, 股票薪酬
payout ratio | 派息率, 分红率
returned to shareholders, return to shareholders, shareholder returns | 返还股东, 股东回报
net charge-offs, net charge-off, charge-offs, charge-off | 净冲销, 冲销, 核销
provision for credit losses, credit loss provision, provisions | 信贷损失准备, 信用损失准备, 拨备
allowance for credit losses, allowance for loan losses, allowance for loan and lease losses, loan loss reserve, loan loss reserves, reserve for credit losses | 信贷损失准备金, 信用损失准备金, 贷款损失准备金
net interest margin, nim | 净息差
pre-provision net revenue, ppnr, pre-provision profit, pre-provision income | 拨备前净收入, 拨备前利润
return on equity, roe | 净资产收益率, 股本回报率
cet1 ratio, cet1 capital ratio, cet1, common equity tier 1 | 普通股一级资本充足率, 核心一级资本充足率
book value per share, tangible book value | 每股账面价值, 有形账面价值
efficiency ratio | 效率比率
mortgage, mortgages | 抵押贷款, 房贷
@ppp, paycheck protection program, p3 loans, p3 loan, p3 balances, p3 fees, p3 forgiveness | 薪资保护计划, 工资保障计划
credit card, credit cards | 信用卡
payment volume, payments volume, gross dollar volume, total payment volume, tpv | 支付额, 支付交易额
transactions, transaction | 交易笔数
premiums, net premiums written | 保费
combined ratio | 综合成本率
loss ratio, loss ratios, claim ratio, claims ratio, claim ratios | 赔付率
catastrophe losses, catastrophe loss, cat losses | 巨灾损失
incurred but not reported, ibnr | 已发生未报告, 已发生未报案
medical care ratio, medical loss ratio | 医疗赔付率
members, membership, memberships | 会员
attendance, visitors, guests | 游客, 客流, 到访人数
theme parks, parks | 主题乐园, 乐园
streaming | 流媒体
wireless, mobility | 无线, 移动业务
broadband, fiber | 宽带, 光纤
e-commerce, ecommerce, online sales, digital sales | 电商, 线上销售
orders, order intake, new orders | 订单, 新订单
book-to-bill | 订单出货比
production | 产量
refining margin, refining margins | 炼油利润率
throughput | 吞吐量, 加工量
occupancy, occupancy rate | 入住率, 出租率
utilization, utilization rate | 利用率
rent, rents, rental | 租金
collection rate, collection rates, rent collections, rent collection, cash collections | 收缴率, 租金回收率, 租金收缴率
funds from operations, ffo | 运营资金
adjusted funds from operations, affo | 调整后运营资金
net operating income, noi | 净营业收入
patients | 患者
prescriptions | 处方
pipeline | 管线
inflation | 通胀, 通货膨胀
headwind, headwinds | 逆风, 不利因素
tailwind, tailwinds | 顺风, 有利因素
acquisition, acquisitions | 收购, 并购
synergies | 协同效应
cost savings | 成本节约, 节省成本
ebit | 息税前利润
market capitalization, market cap | 市值
assets under management, aum | 资产管理规模, 管理资产规模
gross merchandise volume, gross merchandise value, gmv | 商品交易总额, 成交总额
daily active users, dau | 日活跃用户, 日活
monthly active users, mau | 月活跃用户, 月活
take rate | 货币化率, 抽佣率
~midpoint | 中值, 中点
~year to date, year-to-date | 年初至今
"""


@lru_cache(maxsize=1)
def _table() -> tuple[dict[str, tuple[str, ...]], list[tuple[str, tuple[str, ...]]]]:
    """(Chinese term -> its equivalents, English phrases longest first with their equivalents).
    A term's equivalents are every other phrasing on its row, in both languages, so "eps" also
    finds "earnings per share" and "guide" finds "expect"."""
    zh_map: dict[str, set[str]] = {}
    en_map: dict[str, set[str]] = {}
    for row in _ROWS.strip().splitlines():
        en_part, zh_part = row.lstrip("~@").split("|")
        en = [t.strip().lower() for t in en_part.split(",") if t.strip()]
        zh = [t.strip() for t in zh_part.split(",") if t.strip()]
        for term in en + zh:
            target = zh_map if re.search(r"[\u4e00-\u9fff]", term) else en_map
            target.setdefault(term, set()).update(t for t in en + zh if t != term)
    frozen = {k: tuple(sorted(v)) for k, v in zh_map.items()}
    ordered = sorted(((k, tuple(sorted(v))) for k, v in en_map.items()), key=lambda kv: -len(kv[0]))
    return frozen, ordered


@lru_cache(maxsize=2)
def _marked(mark: str) -> frozenset[str]:
    """The terms of the rows marked with `mark`, lower-cased."""
    out: set[str] = set()
    for row in _ROWS.strip().splitlines():
        if row.startswith(mark):
            out.update(t.strip().lower() for t in re.split(r"[,|]", row[1:]) if t.strip())
    return frozenset(out)


def aspects() -> frozenset[str]:
    """Terms (rows marked `~`) that qualify a metric (同比, basis points, Q4) rather than name one."""
    return _marked("~")


def is_aspect(group: tuple[str, ...]) -> bool:
    return group[0].lower() in aspects()


def parts() -> frozenset[str]:
    """Terms (rows marked `@`) that name a part of the business or a place (segment, cloud, Europe):
    which figure, not what figure."""
    return _marked("@")


def is_part(group: tuple[str, ...]) -> bool:
    return group[0].lower() in parts()


@lru_cache(maxsize=None)  # the glossary has more terms than `re`'s own cache of 512 patterns
def _pattern(term: str) -> re.Pattern[str]:
    """Latin terms match as whole words ("ai" not inside "trainium"); Chinese terms as substrings."""
    if re.search(r"[\u4e00-\u9fff]", term):
        return re.compile(re.escape(term))
    return re.compile(rf"(?<![a-z0-9]){re.escape(term.lower())}(?![a-z0-9])")


def mask(text: str, term: str) -> str:
    """`text` (lower-cased) with occurrences of `term` blanked out."""
    return _pattern(term).sub(" ", text.lower())


def without(text: str, term: str) -> str:
    """`text`, its case kept, with occurrences of `term` blanked out."""
    return re.compile(_pattern(term).pattern, re.I).sub(" ", text)


@lru_cache(maxsize=1)
def _longest_first() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Every term with its equivalents, longest first (English before Chinese at equal length)."""
    zh_map, en_phrases = _table()
    candidates = [(p, t) for p, t in en_phrases] + sorted(zh_map.items(), key=lambda kv: -len(kv[0]))
    return tuple(sorted(candidates, key=lambda kv: -len(kv[0])))


def groups(text: str) -> list[tuple[str, ...]]:
    """For each glossary term in `text`: the term and its other-language equivalents."""
    out: list[tuple[str, ...]] = []
    taken = text.lower()
    # Longest first; a matched term is blanked so it is not matched again inside a longer one. The
    # substring test spares the word-boundary pattern for the many terms a question does not hold.
    for term, targets in _longest_first():
        if term in taken and _pattern(term).search(taken):
            out.append((term, *targets))
            taken = mask(taken, term)
    return out


def translations(text: str) -> list[str]:
    """Other-language terms for glossary terms found in `text` (English phrases or Chinese words)."""
    return _equivalents(groups(text))


def _equivalents(found: list[tuple[str, ...]]) -> list[str]:
    """The equivalents of matched groups, each once, in order."""
    return list(dict.fromkeys(t for g in found for t in g[1:]))


def expand(text: str, dictionary: bool = True) -> str:
    """`text` plus the other-language terms for its glossary terms (for lexical search), and with
    `dictionary` the English senses of Chinese words the glossary lacks (`rag.cedict`)."""
    found = groups(text)
    extra = _equivalents(found)
    if dictionary and re.search(r"[\u4e00-\u9fff]", text):
        from rag.cedict import english

        rest = text  # the glossary's own matches blanked: 自由现金流 is free cash flow, not 自由 "freedom"
        for g in found:
            rest = mask(rest, g[0])
        extra += english(rest, known=lambda w: bool(groups(w)))
    return text + (" " + " ".join(extra) if extra else "")
