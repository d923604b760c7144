"""The vocabulary of the synthetic catalogue: taste themes with Chinese and English tags and
words, regions, education levels, event types and their frequencies. Data, not logic: kept
apart from matching/synthetic.py so the generator reads as an algorithm.
"""

from __future__ import annotations

from dataclasses import dataclass

SYNTHETIC_NOW = 1_735_689_600.0  # 2025-01-01T00:00:00Z

REGIONS = ("上海", "北京", "广州", "深圳", "成都", "杭州")
EDUCATION = ("high_school", "associate", "bachelor", "master", "phd")
EVENT_TYPES = ("view", "click", "like", "share", "purchase")
EVENT_TYPE_P = (0.62, 0.22, 0.09, 0.04, 0.03)
# Planted activity patterns, meant to surface as the lifecycle stages new/active/silent/churned.
ACTIVITY_PATTERNS = ("new", "active", "silent", "churned")
ACTIVITY_P = (0.10, 0.50, 0.20, 0.20)
IN_CLUSTER_SHARE = 0.8


@dataclass(frozen=True, slots=True)
class Theme:
    name: str
    category: str
    kw_tags: tuple[str, ...]  # keyword tags, Chinese and English
    words_zh: tuple[str, ...]
    words_en: tuple[str, ...]
    female_share: float
    age_mean: float
    age_sd: float
    income_median: float  # monthly CNY
    region_p: tuple[float, ...]  # over REGIONS
    occupations: tuple[str, ...]
    education_p: tuple[float, ...]  # over EDUCATION
    price_median: float  # of a purchase, CNY


THEMES: tuple[Theme, ...] = (
    Theme("fitness", "sports", ("瑜伽", "健身", "普拉提", "yoga", "pilates"),
          ("瑜伽", "健身", "普拉提", "冥想", "减脂", "拉伸", "体态", "跑步"),
          ("yoga", "pilates", "stretching", "meditation", "workout", "running"),
          0.80, 29, 5, 14_000, (0.25, 0.2, 0.12, 0.15, 0.13, 0.15),
          ("designer", "teacher", "marketing", "nurse", "trainer"),
          (0.1, 0.2, 0.5, 0.18, 0.02), 199),
    Theme("food", "lifestyle", ("美食", "烘焙", "火锅", "cooking", "recipe"),
          ("美食", "烘焙", "火锅", "家常菜", "甜点", "食谱", "咖啡", "面条"),
          ("recipe", "baking", "cooking", "dessert", "noodles", "coffee"),
          0.60, 35, 9, 11_000, (0.15, 0.12, 0.2, 0.13, 0.25, 0.15),
          ("chef", "homemaker", "sales", "teacher", "clerk"), (0.25, 0.3, 0.35, 0.09, 0.01), 89),
    Theme("tech", "technology", ("科技", "编程", "数码", "AI", "programming"),
          ("人工智能", "编程", "手机", "芯片", "数码", "评测", "算法", "电脑"),
          ("python", "smartphone", "chip", "gadget", "review", "programming"),
          0.25, 28, 6, 22_000, (0.18, 0.24, 0.08, 0.28, 0.07, 0.15),
          ("engineer", "programmer", "student", "product_manager", "researcher"),
          (0.03, 0.1, 0.5, 0.3, 0.07), 2999),
    Theme("travel", "travel", ("旅行", "自驾", "酒店", "travel", "hotel"),
          ("旅行", "自驾", "酒店", "攻略", "海岛", "民宿", "签证", "露营"),
          ("travel", "hotel", "itinerary", "island", "backpacking", "flight"),
          0.55, 33, 8, 18_000, (0.22, 0.2, 0.12, 0.12, 0.2, 0.14),
          ("manager", "consultant", "photographer", "sales", "freelancer"),
          (0.05, 0.15, 0.55, 0.22, 0.03), 1299),
    Theme("finance", "finance", ("理财", "基金", "股票", "finance", "investing"),
          ("理财", "基金", "股票", "投资", "保险", "房贷", "养老", "债券"),
          ("investing", "stocks", "fund", "savings", "retirement", "bonds"),
          0.40, 40, 9, 28_000, (0.35, 0.25, 0.1, 0.15, 0.05, 0.1),
          ("accountant", "manager", "entrepreneur", "banker", "civil_servant"),
          (0.05, 0.1, 0.45, 0.33, 0.07), 499),
    Theme("gaming", "entertainment", ("游戏", "电竞", "手游", "gaming", "esports"),
          ("游戏", "电竞", "手游", "主机", "二次元", "副本", "角色", "联机"),
          ("gaming", "esports", "console", "RPG", "speedrun", "multiplayer"),
          0.30, 22, 4, 7_000, (0.12, 0.12, 0.18, 0.18, 0.22, 0.18),
          ("student", "programmer", "streamer", "designer", "clerk"),
          (0.3, 0.3, 0.35, 0.05, 0.0), 68),
    Theme("beauty", "fashion", ("美妆", "护肤", "口红", "skincare", "makeup"),
          ("美妆", "护肤", "口红", "面膜", "穿搭", "香水", "防晒", "彩妆"),
          ("skincare", "makeup", "lipstick", "fashion", "perfume", "sunscreen"),
          0.90, 26, 5, 12_000, (0.26, 0.18, 0.16, 0.14, 0.12, 0.14),
          ("marketing", "student", "designer", "sales", "blogger"),
          (0.1, 0.25, 0.5, 0.14, 0.01), 259),
    Theme("parenting", "family", ("育儿", "母婴", "早教", "parenting", "baby"),
          ("育儿", "母婴", "早教", "辅食", "绘本", "亲子", "奶粉", "睡眠"),
          ("parenting", "baby", "toddler", "picture_books", "preschool", "family"),
          0.85, 32, 4, 16_000, (0.2, 0.18, 0.15, 0.15, 0.16, 0.16),
          ("teacher", "homemaker", "nurse", "civil_servant", "accountant"),
          (0.08, 0.22, 0.5, 0.18, 0.02), 159),
)  # fmt: skip

ZH_WORDS, EN_WORDS = 8, 6
TITLES_ZH = ("{a}{b}入门指南", "{a}新手必看：{b}", "关于{a}和{b}的十个技巧", "{a}｜{b}实用清单")
TITLES_EN = ("A beginner's guide to {a} and {b}", "Ten {a} tips", "{a} vs {b}: what to know")
FILLER_ZH = ("分享", "推荐", "经验", "技巧", "入门", "清单")
FILLER_EN = ("tips", "guide", "ideas", "basics", "week", "plan")
