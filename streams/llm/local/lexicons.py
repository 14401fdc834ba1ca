"""Keyword tables of the offline analyzer, per language: aspects, intents, issues, urgency, competitors.

Data, not code: `rules.py` applies these tables and nothing here branches. English patterns are regular expressions
matched case-insensitively on word boundaries; Chinese ones are matched as substrings (there are no spaces to anchor
on). Aspect names are English in both languages so that insights aggregate across languages; `zh` labels are only
for the Chinese summary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = [
    "ASPECTS",
    "ASPECT_ISSUE",
    "CONTRAST_WORDS",
    "DEFAULT_COMPETITORS",
    "INTENT_CUES",
    "ISSUE_CUES",
    "ISSUE_LABELS",
    "AspectRule",
    "Cue",
]


@dataclass(frozen=True, slots=True)
class AspectRule:
    en: str  # regex, matched with \b...\b around it
    zh: str  # regex on the raw Chinese text
    zh_label: str


# Order matters only for ties in the summary: earlier aspects are named first.
ASPECTS: Final[dict[str, AspectRule]] = {
    "battery": AspectRule(r"batter(?:y|ies)|battery life|charg(?:e|es|ed|ing|er)", r"电池|续航|充电|待机", "电池"),
    "price": AspectRule(r"price[sd]?|pricey|cost(?:s|ly)?|value|money|expensive|cheap(?:er|est)?|bargain|worth",
                        r"价格|价钱|价位|性价比|便宜|太贵|偏贵|不值|划算|实惠", "价格"),
    "delivery": AspectRule(r"deliver(?:y|ed|ies)?|shipp(?:ing|ed)|shipment|arriv(?:ed|al|es)|courier",
                           r"物流|快递|发货|送货|配送|到货|邮寄", "物流"),
    "packaging": AspectRule(r"packag(?:ing|ed)|box(?:es)?|wrapping|packing", r"包装|盒子|外盒|箱子", "包装"),
    # "sound quality" is about sound, not build quality: those words name their own aspect.
    "quality": AspectRule(r"(?<!sound )(?<!audio )(?<!picture )(?<!image )(?<!video )(?<!print )quality|"
                          r"build|built|sturdy|durable|flimsy|materials?|construction|well made|cheaply made",
                          r"质量|品质|做工|材质|质感|用料", "质量"),
    "size": AspectRule(r"size[sd]?|fit(?:s|ting)?|too small|too big|tight|loose|dimensions",
                       r"尺码|尺寸|大小|偏大|偏小|合身|码数", "尺码"),
    "service": AspectRule(r"customer service|customer support|tech(?:nical)? support|support|service|warranty|seller",
                          r"客服|售后|服务(?!员)|卖家|商家|保修", "服务"),
    "screen": AspectRule(r"screens?|displays?|lcd|resolution|brightness", r"屏幕|屏|显示", "屏幕"),
    "sound": AspectRule(r"sound|audio|speakers?|volume|bass|headphones?|earphones?|noise|noisy",
                        r"声音|音质|音效|音量|噪音|噪声|喇叭|耳机", "声音"),
    "camera": AspectRule(r"pictures?|photos?|images?|lens|zoom|flash|shots?|video",
                         r"拍照|照片|像素|镜头|摄像", "拍照"),
    "usability": AspectRule(r"easy to use|ease of use|user interface|interface|menus?|controls?|buttons?|navigation",
                            r"操作|按键|界面|上手", "易用性"),
    "software": AspectRule(r"software|firmware|apps?|drivers?|operating system", r"系统|软件|驱动", "软件"),
    "performance": AspectRule(r"performance|speed|lag(?:gy|s)?|freez(?:e|es|ing)|crash(?:es|ed)?|slow",
                              r"速度|性能|运行|配置|卡顿|死机|反应", "性能"),
    "design": AspectRule(r"design|looks?|colou?rs?|style|weight|compact|light ?weight|heavy",
                         r"外观|颜色|设计|样子|外形|重量|轻薄", "外观"),
    "heat": AspectRule(r"overheat(?:s|ing)?|heat|hot", r"散热|发热|发烫|温度|风扇", "散热"),
    "keyboard": AspectRule(r"keyboard|keys|touchpad", r"键盘|触摸板", "键盘"),
    "taste": AspectRule(r"tastes?|flavou?rs?|delicious", r"味道|口感|好吃|难吃", "口味"),
    "room": AspectRule(r"rooms?|beds?|bathroom|shower", r"房间|客房|床|卫生间|浴室|隔音|房型", "房间"),
    "staff": AspectRule(r"staff|receptionist|front desk|employees?|waiters?", r"前台|服务员|员工|工作人员", "员工"),
    "location": AspectRule(r"location|located|neighbou?rhood|nearby", r"位置|地段|交通|地理|周边|附近", "位置"),
    "breakfast": AspectRule(r"breakfast|restaurant|buffet", r"早餐|早饭|餐厅|自助餐", "早餐"),
    "facilities": AspectRule(r"wi-?fi|internet|facilities|parking|pool|gym", r"设施|网络|宽带|上网|停车|游泳", "设施"),
    "content": AspectRule(r"story|plot|author|writing|chapters?|content", r"内容|情节|故事|作者|文笔|翻译", "内容"),
    "printing": AspectRule(r"printing|paper", r"印刷|纸张|纸质|字迹", "印刷"),
}

# A negative aspect suggests this issue kind.
ASPECT_ISSUE: Final[dict[str, str]] = {
    "battery": "quality", "quality": "quality", "screen": "quality", "sound": "quality", "camera": "quality",
    "software": "quality", "performance": "quality", "heat": "quality", "keyboard": "quality", "room": "quality",
    "printing": "quality", "usability": "quality", "price": "price", "delivery": "shipping",
    "packaging": "packaging", "size": "size_fit", "service": "service", "staff": "service",
}

# Words that are a problem report whatever the classifier says ("it stopped working" is neutral to some models).
ISSUE_CUES: Final[dict[str, dict[str, str]]] = {
    "safety": {
        "en": r"caught fire|on fire|fire hazard|burst into flames|flames? (?:came|shot)|"
              r"smok(?:e|ing) (?:came|coming|poured|pouring|from|out)|(?:started|began|was) smoking|"
              r"sparks? (?:came|flew)|sparked|sparking|scorch\w*|melt(?:ed|ing)|explod\w*|"
              r"electric(?:al)? shock|electrocut\w*|got shocked|(?:gave|got) (?:me )?an? (?:electric )?shock|"
              r"injur\w*|poison\w*|toxic|allergic reaction|dangerous|unsafe|(?:fire|safety) hazard|"
              # "burn" alone is mostly "burn a CD" in electronics reviews: only burns of people and things count.
              r"burn(?:ed|t|s)? (?:my |his |her |their |our |the )?(?:hands?|fingers?|skin|arms?|legs?|face|"
              r"child|kids?|son|daughter|house|kitchen|counter|table|carpet|floor)|"
              r"(?:got|get|was|were|been) burn(?:ed|t)|burning smell|smell(?:s|ed)? (?:of |like )?burn(?:ing|t)",
        "zh": r"起火|着火|冒烟|烧焦|烫伤|烧伤|触电|漏电|爆炸|炸了|自燃|食物中毒|煤气中毒|有毒|过敏|"
              r"(?<!没有)(?<!没)受伤|划伤(?:了)?(?:手|皮肤|孩子)|被电到|(?:太|很|非常|好)危险|安全隐患",
    },
    "fraud": {
        "en": r"fake|counterfeit|knock-?off|scam(?:med)?|fraud\w*|not genuine|not authentic|rip(?:ped)? me off",
        "zh": r"假货|(?<![度休放请暑寒])假的|山寨|骗子|欺骗|骗人|被骗|翻新机|盗版|以次充好",
    },
    "missing_parts": {
        "en": r"missing|(?:was|were|is|are)(?:n't| not) included|did(?:n't| not) (?:come|arrive) with|incomplete",
        "zh": r"(?:少了|缺少|缺了)(?:一|个|配件|零件|东西|说明书|发票|赠品)|漏发|少发|配件不全|没有配件|没给发票",
    },
    "quality": {
        "en": r"defective|broke(?:n)?|stopped working|(?:does|did|do)(?:n't| not) work|died|dead on arrival|faulty|"
              r"poor quality|cheaply made|flimsy|fell apart|falls apart|cracked|malfunction\w*|glitch\w*|"
              r"freez(?:e|es|ing)|crash(?:es|ed)|useless|junk",
        "zh": r"坏了|质量差|质量不好|质量太差|次品|故障|失灵|死机|蓝屏|掉漆|裂了|不能用|用不了|毛病|开不了机|"
              r"不好用|做工差|做工粗糙|粗糙",
    },
    "shipping": {
        "en": r"(?:arrived|came|delivered|was|were) late|late delivery|delayed|never (?:arrived|came|received)|"
              r"took forever|slow (?:shipping|delivery)|lost in the mail|"
              r"wrong (?:item|product|color|colour|model)|sent the wrong",
        "zh": r"物流慢|快递慢|发货慢|送货慢|迟迟|还没到|没收到|延迟|发错|送错",
    },
    "packaging": {
        "en": r"damaged (?:box|package|packaging)|(?:box|package|packaging) was damaged|crushed|dented|"
              r"poorly packaged|torn",
        "zh": r"包装破损|包装很差|包装太差|包装简陋|压坏|破损|盒子坏",
    },
    "size_fit": {
        "en": r"too (?:small|big|large|tight|loose|short|long)|runs? (?:small|large|big)|(?:does|did)(?:n't| not) fit|"
              r"wrong size",
        "zh": r"偏小|偏大|尺码不|不合身|太紧|太松|码数不",
    },
    "price": {
        "en": r"overpriced|too expensive|rip-?off|not worth (?:the|it)|waste of money|pricey",
        "zh": r"太贵|偏贵|贵了|不值|性价比低|性价比不高|价格高|价格偏高",
    },
    "service": {
        "en": r"rude|unhelpful|no response|never (?:responded|replied|answered)|hung up|ignored|"
              r"(?:customer )?service (?:is|was) (?:bad|terrible|awful|horrible|poor)",
        "zh": r"态度差|态度不好|态度恶劣|态度很差|服务差|服务不好|服务很差|不回复|推脱|敷衍|爱理不理|"
              r"不理人|不搭理|没人理",
    },
}

ISSUE_LABELS: Final[dict[str, dict[str, str]]] = {
    "quality": {"en": "quality", "zh": "质量"},
    "shipping": {"en": "shipping", "zh": "物流"},
    "packaging": {"en": "packaging", "zh": "包装"},
    "size_fit": {"en": "size/fit", "zh": "尺码"},
    "price": {"en": "price", "zh": "价格"},
    "service": {"en": "service", "zh": "服务"},
    "safety": {"en": "safety", "zh": "安全"},
    "fraud": {"en": "authenticity", "zh": "真伪"},
    "missing_parts": {"en": "missing parts", "zh": "缺件"},
    "other": {"en": "other problems", "zh": "其他问题"},
}


@dataclass(frozen=True, slots=True)
class Cue:
    intent: str
    en: str
    zh: str
    # A cue that a clearly negative review overrides: a rhetorical "?" or "I wish..." in a rant is a complaint.
    yields_to_complaint: bool = False


# Checked in this order; the first cue found wins (a refund question is a return request before it is a question).
INTENT_CUES: Final[tuple[Cue, ...]] = (
    Cue("return_request",
        r"return(?:ed|ing)? (?:it|this|them|the (?:item|product|unit|order))|want to return|send(?:ing)? it back|"
        r"sent it back|refund|money back|exchange (?:it|this)|(?:ask|want|need|request)(?:ed)? (?:for )?a replacement|"
        r"send (?:me )?a replacement|take it back|rma",
        r"退货|退款|退钱|换货|退回|退换|要求退|申请退"),
    Cue("question",
        r"how do i|how can i|how to|does anyone know|anyone know|is there a way|can someone tell|can anyone tell|"
        r"what should i do",
        r"请问|怎么(?:办|用|弄|设置|安装|处理|才能|回事)|如何(?:设置|安装|使用|才能)|能不能告诉|有没有人知道|是否可以"),
    Cue("question", r"\?", r"[？?]|吗$", yields_to_complaint=True),
    Cue("suggestion",
        r"i suggest|suggestion|would be (?:nice|better|great)|i wish|wish (?:they|it|there)|please add|"
        r"should (?:add|have|include|make|offer|improve)|needs? to (?:add|improve|be improved)|hope (?:they|you)|"
        r"it would help",
        r"建议|希望|要是.{0,12}就好|如果能|最好能|改进|改善一下",
        yields_to_complaint=True),
)

CONTRAST_WORDS: Final[dict[str, str]] = {
    "en": r"but|however|although|though|except|unfortunately|on the other hand",
    "zh": r"但是|但|不过|可是|然而|只是|可惜",
}

# Canonical name -> (English alias regex, Chinese alias regex or ""). The analyzer does not know the reviewed
# product's own brand, so a review naming it lists it too; pass your own table to `LocalAnalyzer(competitors=...)`.
DEFAULT_COMPETITORS: Final[dict[str, tuple[str, str]]] = {
    "Amazon": (r"amazon(?:\.com)?", "亚马逊"),
    "Apple": (r"apple|iphone|ipad|ipod|macbook|imac", r"苹果(?:手机|电脑|公司)|iPhone|iPad|iPod"),
    "Samsung": (r"samsung|galaxy s\d+", "三星"),
    "Xiaomi": (r"xiaomi|redmi", "小米|红米"),
    "Huawei": (r"huawei", "华为"),
    "JD": (r"jd\.com|jingdong", "京东"),
    "Taobao": (r"taobao", "淘宝"),
    "Tmall": (r"tmall", "天猫"),
    "Dangdang": (r"dangdang", "当当"),
    "Anker": (r"anker", "安克"),
    "Sony": (r"sony", "索尼"),
    "Lenovo": (r"lenovo|thinkpad", "联想"),
    "Dell": (r"dell", "戴尔"),
    "HP": (r"hp|hewlett[- ]packard", "惠普"),
    "Asus": (r"asus", "华硕"),
    "Acer": (r"acer", "宏碁"),
    "Toshiba": (r"toshiba", "东芝"),
    "Canon": (r"canon", "佳能"),
    "Nikon": (r"nikon", "尼康"),
    "Nokia": (r"nokia", "诺基亚"),
    "Motorola": (r"motorola", "摩托罗拉"),
    "Panasonic": (r"panasonic", "松下"),
    "Philips": (r"philips", "飞利浦"),
    "Microsoft": (r"microsoft|zune", "微软"),
}
