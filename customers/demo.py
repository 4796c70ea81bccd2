"""Demo data: a tea house and a hair salon with two years of believable history."""

import random
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import Business, Membership
from accounts.services import business_create, member_add

from .models import Customer, FollowUp, Interaction, Purchase, Tag
from .phones import is_valid_phone

DEMO_PASSWORD = "xiaowei-demo"  # noqa: S105 — demo only, documented as such in the README

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩"
    "冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍"
    "红鹏辉晶雪琳欣怡梓涵子轩浩宇雨桐思远佳慧晓峰"
)
CITIES = ["杭州", "上海", "苏州", "南京", "宁波", "绍兴"]

PROFILES = {
    "tea": {
        "name": "清风茶馆",
        "margin": Decimal("55.00"),
        "items": ["龙井 250g", "普洱饼", "铁观音", "茶点套餐", "包间茶位", "白茶礼盒", "红茶"],
        "price": (38, 680),
        "tags": ["熟客", "送礼", "包间", "线上"],
        "channels": ["门店", "微信", "外卖"],
    },
    "salon": {
        "name": "美尚发艺",
        "margin": Decimal("65.00"),
        "items": ["洗剪吹", "染发", "烫发", "护理", "头皮养护", "造型"],
        "price": (58, 980),
        "tags": ["会员", "染烫", "学生", "VIP"],
        "channels": ["门店", "美团", "微信"],
    },
}


def _phone(rng: random.Random, used: set[str]) -> str:
    while True:
        number = f"+861{rng.choice('3456789')}{rng.randrange(10**9):09d}"
        if number not in used and is_valid_phone(number):  # no unassigned blocks (140…)
            used.add(number)
            return number


@transaction.atomic
def seed_business(slug: str, *, customers: int = 300, seed: int = 7) -> Business | None:
    """Create one demo business; None when it already exists (running twice changes nothing)."""
    if Business.objects.filter(slug=slug).exists():
        return None
    profile = PROFILES[slug]
    rng = random.Random(f"{slug}-{seed}")
    business = business_create(
        slug=slug,
        name=profile["name"],
        owner_username=f"{slug}_owner",
        owner_password=DEMO_PASSWORD,
        default_margin_pct=profile["margin"],
    )
    staff = member_add(business=business, username=f"{slug}_staff", password=DEMO_PASSWORD)
    owner = Membership.objects.get(business=business, role=Membership.Role.OWNER).user
    tags = [Tag.objects.create(business=business, name=name) for name in profile["tags"]]

    now = timezone.now()
    start = now - timedelta(days=730)
    used: set[str] = set()
    people = []
    for i in range(customers):
        created = start + timedelta(days=rng.randrange(0, 700))
        people.append(
            Customer(
                business=business,
                name=rng.choice(SURNAMES)
                + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2)))),
                phone=_phone(rng, used) if rng.random() < 0.92 else "",
                customer_no=f"{i + 1:05d}" if rng.random() < 0.7 else "",
                city=rng.choice(CITIES),
                gender=rng.choice(["female", "female", "male", ""]),
                source=rng.choice(Customer.Source.values),
                marketing_consent=rng.random() < 0.6,
                marketing_consent_at=created if rng.random() < 0.6 else None,
                assigned_to=rng.choice([owner, staff, None]),
                created_at=created,
            )
        )
    for person in people:
        if not person.marketing_consent:
            person.marketing_consent_at = None
        elif person.marketing_consent_at is None:
            person.marketing_consent_at = person.created_at
    Customer.objects.bulk_create(people)
    people = list(Customer.objects.for_business(business).order_by("id"))

    purchases, interactions, follow_ups, tag_links = [], [], [], []
    low, high = profile["price"]
    for n, person in enumerate(people):
        kind = rng.choices(["regular", "occasional", "lapsed", "once"], [20, 30, 20, 30])[0]
        gap = {"regular": 18, "occasional": 75, "lapsed": 25, "once": 10_000}[kind]
        stop = now - timedelta(days=rng.randrange(200, 400)) if kind == "lapsed" else now
        when = person.created_at
        spend = rng.uniform(0.6, 1.6)
        while when < stop:
            amount = Decimal(str(round(rng.uniform(low, high) * spend / 2, 0)))
            has_cost = rng.random() < 0.3
            purchases.append(
                Purchase(
                    business=business,
                    customer=person,
                    occurred_at=when,
                    amount=amount,
                    cost=(amount * Decimal("0.4")).quantize(Decimal("0.01")) if has_cost else None,
                    channel=rng.choice(profile["channels"]),
                    items=rng.choice(profile["items"]),
                    external_id=f"{slug}-{n}-{len(purchases)}" if rng.random() < 0.5 else "",
                )
            )
            if kind == "once":
                break
            when += timedelta(days=max(1, rng.expovariate(1 / gap)), hours=rng.randrange(0, 8))
        for _ in range(rng.choice([0, 0, 1, 2, 3])):
            interactions.append(
                Interaction(
                    business=business,
                    customer=person,
                    kind=rng.choice(Interaction.Kind.values),
                    occurred_at=person.created_at + timedelta(days=rng.randrange(0, 300)),
                    staff=rng.choice([owner, staff]),
                    summary=rng.choice(
                        ["回访满意度", "推荐新品", "预约下次", "处理投诉", "生日问候"]
                    ),
                    cost_minutes=rng.choice([None, 5, 10, 30]),
                )
            )
        if rng.random() < 0.15:
            follow_ups.append(
                FollowUp(
                    business=business,
                    customer=person,
                    due_on=(now + timedelta(days=rng.randrange(-5, 14))).date(),
                    task=rng.choice(["电话回访", "发送新品信息", "提醒续卡", "生日祝福"]),
                    assigned_to=rng.choice([owner, staff]),
                )
            )
        for tag in rng.sample(tags, rng.choice([0, 0, 1, 2])):
            tag_links.append(Customer.tags.through(customer_id=person.pk, tag_id=tag.pk))
    Purchase.objects.bulk_create(purchases, batch_size=2000)
    Interaction.objects.bulk_create(interactions, batch_size=2000)
    FollowUp.objects.bulk_create(follow_ups)
    Customer.tags.through.objects.bulk_create(tag_links)
    return business
