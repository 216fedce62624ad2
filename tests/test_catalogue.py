"""Browsing and searching the catalogue: filters, sorts, search and pages, all from indexes."""

from __future__ import annotations

from urllib.parse import quote

import pytest

PRODUCTS = [
    # sku, name, category, price, sales
    ("TEE-WHT", "纯棉圆领T恤 白色", "apparel", 7900, 30),
    ("TEE-BLK", "Cotton TEE black", "apparel", 8900, 12),
    ("JKT-01", "羽绒服 长款", "apparel", 59900, 3),
    ("SCARF", "Silk scarf", "apparel", 25900, 0),
    ("DUMP-1", "手工水饺 猪肉白菜", "food", 3900, 120),
    ("TEA-LJ", "西湖龙井 明前", "food", 26800, 44),
    ("RICE-5", "东北大米 5kg", "food", 6900, 80),
    ("FLANGE", "不锈钢法兰 DN50", "machinery", 12900, 7),
    ("BEARING", "Deep groove ball bearing 6204", "machinery", 1800, 250),
    ("VALVE", "球阀 DN25", "machinery", 9900, 19),
    ("LAMP", "Desk lamp", "home", 15900, 22),
    ("TOWEL", "纯棉毛巾 三条装", "home", 4900, 61),
]


@pytest.fixture
def catalogue(seed):
    for sku, name, category, price, sales in PRODUCTS:
        seed(sku, name=name, category=category, price=price, sales_count=sales, stock=10)
    seed("GONE", name="纯棉旧款 discontinued", category="apparel", price=100, active=False)


def skus(reply) -> list[str]:
    assert reply.status == 200, reply.body
    return [product["sku"] for product in reply.body["items"]]


def all_pages(api, query: str, limit: int) -> list[str]:
    seen, cursor = [], None
    while True:
        url = f"/products?{query}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        reply = api.get(url)
        page = skus(reply)
        assert len(page) <= limit
        seen.extend(page)
        cursor = reply.body["next_cursor"]
        if cursor is None:
            return seen


def test_a_product_reads_as_the_contract_says(api, seed):
    seed(
        "TEA",
        name="西湖龙井",
        category="food",
        price=26800,
        stock=4,
        description="明前特级",
        images=["https://example.com/tea.jpg"],
        attributes={"weight_g": 250, "origin": "杭州"},
    )
    product = api.get("/products/TEA").body
    assert product == {
        "sku": "TEA",
        "name": "西湖龙井",
        "description": "明前特级",
        "category": "food",
        "price": 26800,
        "currency": "CNY",
        "images": ["https://example.com/tea.jpg"],
        "attributes": {"weight_g": 250, "origin": "杭州"},
        "stock_available": 4,
        "sales_count": 0,
        "active": True,
        "product_group": None,
        "options": {},
        "low_stock_threshold": 0,
        "rating_avg": None,
        "rating_count": 0,
        "version": 1,
        "updated_at": product["updated_at"],
    }
    assert product["updated_at"].endswith("Z")


def test_unknown_and_inactive_products_are_not_found(api, catalogue):
    assert api.get("/products/NOPE").status == 404
    reply = api.get("/products/GONE")
    assert reply.status == 404 and reply.error["code"] == "not_found"
    assert "GONE" not in all_pages(api, "sort=name", 100)


def test_a_category_sorted_by_each_sort(api, catalogue):
    apparel = [p for p in PRODUCTS if p[2] == "apparel"]
    by_price = [p[0] for p in sorted(apparel, key=lambda p: p[3])]
    by_sales = [p[0] for p in sorted(apparel, key=lambda p: p[4])]
    assert skus(api.get("/products?category=apparel&sort=price")) == by_price
    assert skus(api.get("/products?category=apparel&sort=-price")) == by_price[::-1]
    assert skus(api.get("/products?category=apparel&sort=sales")) == by_sales
    assert skus(api.get("/products?category=apparel&sort=-sales")) == by_sales[::-1]
    names = api.get("/products?category=apparel&sort=name").body["items"]
    assert [p["name"].casefold() for p in names] == sorted(p[1].casefold() for p in apparel)


def test_price_range_with_any_sort(api, catalogue):
    expected = {p[0] for p in PRODUCTS if 5000 <= p[3] <= 20000}
    for sort in ("price", "-price", "sales", "name"):
        assert set(all_pages(api, f"min_price=5000&max_price=20000&sort={sort}", 2)) == expected
    cheap = skus(api.get("/products?category=machinery&max_price=10000&sort=price"))
    assert cheap == ["BEARING", "VALVE"]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("圆领", {"TEE-WHT"}),
        ("纯棉", {"TEE-WHT", "TOWEL"}),
        ("dn", {"FLANGE", "VALVE"}),
        ("tee", {"TEE-BLK", "TEE-WHT"}),  # TEE-WHT by its SKU prefix (its name is Chinese)
        ("COTTON", {"TEE-BLK"}),
        ("龙井", {"TEA-LJ"}),
        ("没有", set()),
    ],
)
def test_search_finds_a_substring_of_the_name_in_any_script(api, catalogue, q, expected):
    assert set(all_pages(api, f"q={quote(q)}&sort=name", 2)) == expected


def test_search_within_a_category(api, catalogue):
    assert skus(api.get(f"/products?category=home&q={quote('纯棉')}")) == ["TOWEL"]


@pytest.mark.parametrize("sort", ["price", "-price", "sales", "-sales", "name"])
@pytest.mark.parametrize("category", [None, "food"])
def test_pages_return_every_product_exactly_once(api, catalogue, sort, category):
    query = f"sort={sort}" + (f"&category={category}" if category else "")
    seen = all_pages(api, query, 3)
    expected = [p[0] for p in PRODUCTS if category in (None, p[2])]
    assert sorted(seen) == sorted(expected)
    assert len(seen) == len(set(seen))


def test_every_listing_is_one_query_per_partition_and_never_a_scan(api, catalogue, dynamodb_calls):
    """A category is one partition: one Query. The whole catalogue is spread over PRODUCT_SHARDS partitions (no
    index partition is one constant): one Query each."""
    from chalicelib.adapters.dynamo.catalogue_repo import PRODUCT_SHARDS

    for query, partitions in (
        ("", PRODUCT_SHARDS),
        ("category=food", 1),
        ("sort=-price&min_price=100", PRODUCT_SHARDS),
        ("q=%E7%BA%AF%E6%A3%89", PRODUCT_SHARDS),
        ("category=apparel&sort=sales", 1),
    ):
        dynamodb_calls.clear()
        assert api.get(f"/products?{query}").status == 200
        assert dynamodb_calls == ["Query"] * partitions, query


def test_stock_shown_in_listings_follows_reservations(api, seed, place):
    seed("A", stock=5, name="Alpha")
    place(("A", 2))
    listed = api.get("/products").body["items"]
    assert [(p["sku"], p["stock_available"], p["sales_count"]) for p in listed] == [("A", 3, 2)]


# --- as users type it --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "q", ["", " ", "%20%20%20", "%E3%80%80", "%09"], ids=["empty", "space", "spaces", "ideographic", "tab"]
)
def test_a_blank_search_lists_everything(api, catalogue, q):
    everything = sorted(p[0] for p in PRODUCTS)
    assert sorted(all_pages(api, f"q={q}&sort=name", 5)) == everything
    assert sorted(all_pages(api, f"category=food&q={q}", 5)) == sorted(p[0] for p in PRODUCTS if p[2] == "food")


def test_a_search_is_trimmed(api, catalogue):
    assert skus(api.get(f"/products?q={quote('  圆领 ')}")) == ["TEE-WHT"]


@pytest.mark.parametrize("category", ["apparel", "Apparel", "APPAREL", "aPpArEl"])
def test_category_is_case_insensitive(api, catalogue, category):
    expected = sorted(p[0] for p in PRODUCTS if p[2] == "apparel")
    assert sorted(all_pages(api, f"category={category}", 2)) == expected


def test_a_category_written_in_capitals_is_found_in_any_case(api, seed):
    seed("LAMP-1", name="Desk lamp", category="Home Office")
    seed("LAMP-2", name="Floor lamp", category="home office")
    seed("MUG-1", name="Mug", category="Home")
    for category in ("home office", "Home Office", "HOME%20OFFICE"):
        assert sorted(skus(api.get(f"/products?category={category}"))) == ["LAMP-1", "LAMP-2"], category
    assert api.get("/products/LAMP-1").body["category"] == "Home Office"  # shown as written


def test_a_price_range_with_min_above_max_is_empty(api, catalogue, dynamodb_calls):
    for sort in ("price", "name", "-sales"):
        dynamodb_calls.clear()
        reply = api.get(f"/products?min_price=20000&max_price=5000&sort={sort}")
        assert reply.status == 200, reply.body
        assert reply.body == {"items": [], "next_cursor": None}
        assert dynamodb_calls == [], "an empty range needs no Query"
    assert skus(api.get("/products?min_price=7900&max_price=7900")) == ["TEE-WHT"]  # one price is a range


@pytest.mark.parametrize("evaluated", [3, 1000], ids=["shards stop early", "one page each"])
def test_a_filtered_listing_pages_every_match_once_in_order_with_bounded_calls(
    api, seed, dynamodb_calls, monkeypatch, evaluated
):
    """A search over 40 products, 2 to a page: every match comes once, in name order, and no page costs more than
    one Query per partition, even when each Query may evaluate only 3 items (pages then hold fewer, or none, and
    carry on with a cursor)."""
    from chalicelib.adapters.dynamo import pages
    from chalicelib.adapters.dynamo.catalogue_repo import PRODUCT_SHARDS

    for n in range(40):
        seed(f"P-{n:02d}", name=f"{'Silk' if n % 3 == 0 else 'Cotton'} scarf {n:02d}")
    monkeypatch.setattr(pages, "FILTERED_PAGE_SIZE", evaluated)
    seen, cursor, calls = [], None, []
    while True:
        dynamodb_calls.clear()
        reply = api.get("/products?q=silk&limit=2" + (f"&cursor={cursor}" if cursor else ""))
        assert reply.status == 200, reply.body
        calls.append(len(dynamodb_calls))
        seen.extend(item["sku"] for item in reply.body["items"])
        cursor = reply.body["next_cursor"]
        if cursor is None:
            break

    assert seen == [f"P-{n:02d}" for n in range(0, 40, 3)]
    assert max(calls) <= PRODUCT_SHARDS
