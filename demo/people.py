"""Name parts and job titles for generated demo cadres (all fictional)."""

from __future__ import annotations

# Common surnames in Zhejiang, most frequent first; weights fall off with rank.
SURNAMES: tuple[str, ...] = tuple(
    "王 陈 张 李 徐 周 吴 金 胡 朱 沈 杨 钱 叶 黄 刘 方 应 何 郑 蒋 俞 潘 赵 林 孙 汪 杜 姚 "
    "许 程 施 邵 章 丁 楼 陆 余 毛 戴 华 傅 项 夏 袁 韩 马 童 鲍 任 郭 吕 严 冯 邱 曹 罗 葛 "
    "孔 谢 唐 梁 宋 卢 高 蔡 洪 范 翁 裘 缪 虞 屠 诸葛 欧阳".split()
)
SURNAME_WEIGHTS: tuple[float, ...] = tuple(1.0 / (rank + 4) for rank in range(len(SURNAMES)))

# Characters for given names (one or two of them).
GIVEN_CHARS: tuple[str, ...] = tuple(
    "伟 芳 娜 敏 静 丽 强 磊 军 洋 勇 艳 杰 涛 明 超 秀 霞 平 刚 桂 英 华 玲 红 斌 宇 浩 凯 "
    "健 俊 帆 鑫 鹏 晨 辉 翔 欣 怡 婷 雪 琳 颖 倩 佳 蕾 晓 天 嘉 子 一 文 博 思 雨 泽 轩 "
    "瑞 昊 晗 皓 航 铭 源 逸 哲 睿 锋 毅 诚 林 海 波 峰 亮 建 国 忠 志 卫 兵 东 新 立 春 "
    "燕 萍 莉 慧 君 霖 悦 彤 楠 婧 琪 舒 晴 宁 安".split()
)
TWO_CHAR_GIVEN_SHARE = 0.72

# Job titles by the kind of the cadre's unit (townships split into streets and towns,
# villages into villages and urban communities).
JOB_TITLES: dict[str, tuple[str, ...]] = {
    "province": (
        "处长",
        "副处长",
        "一级调研员",
        "二级调研员",
        "一级主任科员",
        "二级主任科员",
        "四级主任科员",
    ),
    "city": (
        "局长",
        "副局长",
        "处长",
        "副处长",
        "科长",
        "副科长",
        "一级主任科员",
        "三级主任科员",
        "科员",
    ),
    "county": (
        "局长",
        "副局长",
        "办公室主任",
        "科长",
        "副科长",
        "股长",
        "一级主任科员",
        "四级主任科员",
        "科员",
    ),
    "street": (
        "党工委书记",
        "街道办事处主任",
        "党工委副书记",
        "组织委员",
        "宣传委员",
        "纪工委书记",
        "党政办主任",
        "综合信息指挥室主任",
        "城市管理科科长",
        "社会事务科干部",
        "科员",
        "科员",
    ),
    "town": (
        "党委书记",
        "镇长",
        "党委副书记",
        "人大主席",
        "组织委员",
        "宣传委员",
        "纪委书记",
        "武装部长",
        "党政办主任",
        "农业农村办主任",
        "经济发展办公室主任",
        "科员",
        "科员",
    ),
    "community": (
        "社区党委书记",
        "社区居委会主任",
        "社区党委副书记",
        "社区专职工作者",
        "社区专职工作者",
        "网格员",
        "网格员",
    ),
    "village": (
        "村党组织书记",
        "村委会主任",
        "村党组织副书记",
        "村务监督委员会主任",
        "村委委员",
        "村委委员",
        "网格员",
        "报账员",
    ),
    "org_department": ("部长", "副部长", "干部科科长", "组织科科长", "科员"),
    "party_school": ("常务副校长", "副校长", "教研室主任", "讲师", "教务科科长", "科员"),
}
