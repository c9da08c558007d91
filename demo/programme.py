"""The demo programme: 人工智能通识及应用网络专题培训 (after the public report in
``shared/brief/zhejiang-ai-training-2025.txt``).

Speakers and topics named in that report are used as reported; the remaining lectures and
their speakers (marked ``fictional``) are plausible inventions for the demo.
"""

from __future__ import annotations

from dataclasses import dataclass

PROGRAMME_TITLE = "人工智能通识及应用网络专题培训"
PROGRAMME_DESCRIPTION = (
    "由省委组织部组织、面向省、市、县、乡、村五级干部的人工智能通识培训,共10堂课,"
    "每周一讲,晚间19:00开讲。课程涵盖通用知识、行业概况、产业应用等方面,帮助广大干部"
    "提升人工智能素养,把握干事机遇。\n\n"
    "省、市、县三级党校主体班次学员及各市、县(市、区)党政班子成员在当地党校集中听课;"
    "其余干部可登录平台在线收看直播或回放。培训为自愿参与。"
)

LECTURE_HOUR = 19  # 19:00 Asia/Shanghai
LECTURE_MINUTES = 90
LIVE_SEQUENCE = 6  # lectures 1–5 have ended, 6 is live now, 7–10 are upcoming
LIVE_STARTED_MINUTES_AGO = 20
LIVE_DURATION_MINUTES = 240  # live for the next few hours whenever the seed runs


@dataclass(frozen=True)
class SpeakerData:
    name: str
    title: str
    organisation: str
    bio: str
    fictional: bool = False


@dataclass(frozen=True)
class LectureData:
    title: str
    category: str  # courses.models.Lecture.Category value
    speaker: str
    summary: str


SPEAKERS: tuple[SpeakerData, ...] = (
    SpeakerData(
        name="王坚",
        title="中国工程院院士",
        organisation="阿里云",
        bio="中国工程院院士,阿里云创始人。长期从事云计算与大数据研究和产业实践,"
        "在培训中前瞻人工智能行业发展趋势。",
    ),
    SpeakerData(
        name="刘云涛",
        title="首席执行官",
        organisation="杭州景联文科技有限公司",
        bio="杭州景联文科技有限公司CEO,长期从事人工智能训练数据服务,"
        "在培训中阐释数据在人工智能发展中的重要作用。",
    ),
    SpeakerData(
        name="陈思远",
        title="教授",
        organisation="浙江大学计算机科学与技术学院",
        bio="(演示人物)研究方向为自然语言处理与大语言模型,关注大模型在政务服务和基层治理中的应用。",
        fictional=True,
    ),
    SpeakerData(
        name="王兴兴",
        title="创始人、首席执行官",
        organisation="杭州宇树科技有限公司",
        bio="宇树科技创始人,本次培训首位受邀的90后授课人。介绍宇树机器人的发展历程、"
        "国内外人形机器人产业现状,以及人工智能与人形机器人的结合。",
    ),
    SpeakerData(
        name="张建锋",
        title="院长",
        organisation="阿里巴巴达摩院",
        bio="阿里巴巴达摩院院长,解析人工智能科技创新如何驱动产业创新。",
    ),
    SpeakerData(
        name="林晓峰",
        title="研究员",
        organisation="之江实验室",
        bio="(演示人物)从事智能计算与数字政府研究,参与多项省级数字化改革项目。",
        fictional=True,
    ),
    SpeakerData(
        name="王跃明",
        title="求是特聘教授",
        organisation="浙江大学",
        bio="浙江大学求是特聘教授,从事脑机接口与神经信息工程研究。",
    ),
    SpeakerData(
        name="周敏",
        title="高级工程师",
        organisation="浙江省智能交通工程技术研究中心",
        bio="(演示人物)从事自动驾驶与车路协同技术研究,参与多地智慧交通示范项目建设。",
        fictional=True,
    ),
    SpeakerData(
        name="许文华",
        title="教授",
        organisation="中共浙江省委党校公共管理教研部",
        bio="(演示人物)研究方向为数字治理与科技伦理,关注人工智能应用中的安全风险与治理体系建设。",
        fictional=True,
    ),
    SpeakerData(
        name="张亚勤",
        title="院长",
        organisation="清华大学智能产业研究院",
        bio="清华大学智能产业研究院院长,在浙江省委党校知行厅为首期培训讲授最后一堂课"
        "“人工智能新浪潮”。",
    ),
)

# The ten lectures in order; ``speaker`` names one of SPEAKERS.
LECTURES: tuple[LectureData, ...] = (
    LectureData(
        title="从DeepSeek看全球人工智能发展趋势",
        category="industry",
        speaker="王坚",
        summary="以DeepSeek等大模型的突破为切入点,分析全球人工智能的技术路线、"
        "算力与开源生态,前瞻行业发展趋势。",
    ),
    LectureData(
        title="数据:人工智能时代的关键生产要素",
        category="general",
        speaker="刘云涛",
        summary="从训练数据的采集、标注到质量治理,阐释数据在人工智能发展中的重要作用,"
        "以及地方发展数据产业的机遇。",
    ),
    LectureData(
        title="大模型原理与基层治理应用",
        category="general",
        speaker="陈思远",
        summary="用通俗的语言讲清大模型如何“学习”和“生成”,并结合基层工作场景,"
        "介绍公文辅助、政策问答等应用与注意事项。",
    ),
    LectureData(
        title="人形机器人产业的今天与明天",
        category="application",
        speaker="王兴兴",
        summary="介绍宇树机器人的发展历程与国内外人形机器人产业现状,分析AI如何与人形机器人"
        "结合,并展望智能机器人产业的未来走向。",
    ),
    LectureData(
        title="以人工智能科技创新驱动产业创新",
        category="application",
        speaker="张建锋",
        summary="解析人工智能科技创新如何驱动产业创新,结合制造、医疗、交通等领域案例,"
        "探讨企业和地方政府的转型路径。",
    ),
    LectureData(
        title="人工智能赋能数字政府建设",
        category="application",
        speaker="林晓峰",
        summary="结合数字化改革实践,介绍人工智能在政务服务、城市治理、应急管理中的应用,"
        "以及数据归集共享与算法预警的做法。",
    ),
    LectureData(
        title="脑机接口研究前沿进展",
        category="industry",
        speaker="王跃明",
        summary="介绍脑机接口的基本原理、国内外研究前沿与临床转化进展,"
        "探讨其在医疗康复等领域惠及群众的前景。",
    ),
    LectureData(
        title="自动驾驶与智慧交通",
        category="industry",
        speaker="周敏",
        summary="梳理自动驾驶技术的发展阶段和车路协同体系,分析智慧交通建设中的"
        "政策、标准与安全问题。",
    ),
    LectureData(
        title="人工智能安全治理与风险防范",
        category="general",
        speaker="许文华",
        summary="从社会管理实践出发,讨论如何平衡技术赋能与风险把控,介绍数据安全、"
        "算法治理和科技伦理的基本要求。",
    ),
    LectureData(
        title="人工智能新浪潮",
        category="general",
        speaker="张亚勤",
        summary="纵览人工智能从感知智能到生成式智能、具身智能的演进,"
        "研判新一轮人工智能浪潮带来的机遇与挑战。",
    ),
)
