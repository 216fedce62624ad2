"""The demo catalogue of the local stack: a small shop selling clothes, food, machinery parts and homeware.

Prices are integers in fen (CNY minor units: ``12900`` = 129.00 CNY). A few
products are nearly out of stock (1-3 left, under their low-stock threshold) so
the races for the last units and the low-stock path can be tried by hand. Each
product has one to four pictures (``PICTURES``), drawn and stored in the local
images bucket when the stack seeds the catalogue (``devstack/demo_images.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from chalicelib.domain.catalogue import Product

if TYPE_CHECKING:  # the repository reads the table names at import: the stack imports it once they are set
    from chalicelib.adapters.dynamo.catalogue_repo import CatalogueRepository

CURRENCY = "CNY"
LOW_STOCK_THRESHOLD = 5
PICTURES: dict[str, int] = {}  # SKU -> how many pictures it has


def _product(
    sku: str,
    name: str,
    category: str,
    price: int,
    stock: int,
    description: str,
    attributes: dict[str, Any],
    *,
    sales: int = 0,
    images: int = 1,
) -> Product:
    PICTURES[sku] = images
    return Product(
        sku=sku,
        name=name,
        category=category,
        price=price,
        currency=CURRENCY,
        stock_available=stock,
        description=description,
        attributes=attributes,
        sales_count=sales,
        low_stock_threshold=LOW_STOCK_THRESHOLD,
    )


APPAREL = "apparel"
FOOD = "food-drink"
MACHINERY = "machinery-parts"
HOME = "home"

PRODUCTS: tuple[Product, ...] = (
    # Apparel / 服装
    _product(
        "TEE-CREW-WHT-M",
        "纯棉圆领T恤 白色 M",
        APPAREL,
        7900,
        120,
        "180 g/m² combed cotton crew-neck tee, pre-shrunk, double-stitched hems. 精梳纯棉，不易变形。",
        {"size": "M", "colour": "white", "material": "100% cotton", "fit": "regular"},
        sales=342,
        images=3,
    ),
    _product(
        "TEE-CREW-BLK-L",
        "纯棉圆领T恤 黑色 L",
        APPAREL,
        7900,
        85,
        "The same combed cotton crew-neck tee in black; colour-fast through 50 washes.",
        {"size": "L", "colour": "black", "material": "100% cotton", "fit": "regular"},
        sales=298,
    ),
    _product(
        "HOODIE-FLC-GRY-L",
        "Fleece Hoodie, Heather Grey, L",
        APPAREL,
        19900,
        40,
        "Brushed-back 320 g/m² fleece hoodie with a kangaroo pocket and a lined hood.",
        {"size": "L", "colour": "heather grey", "material": "80% cotton, 20% polyester"},
        sales=87,
        images=2,
    ),
    _product(
        "JEANS-SLIM-IND-32",
        "Slim Jeans, Indigo, W32 L32",
        APPAREL,
        29900,
        2,
        "Slim-fit stretch denim, rinse-washed indigo, five pockets, YKK zip. Last few in this size.",
        {"waist": "32", "leg": "32", "colour": "indigo", "material": "98% cotton, 2% elastane"},
        sales=156,
    ),
    _product(
        "QIPAO-SILK-RED-S",
        "真丝旗袍 中国红 S",
        APPAREL,
        128000,
        3,
        "Mulberry silk qipao with hand-sewn frog buttons and a mandarin collar. 手工盘扣，桑蚕丝面料。",
        {"size": "S", "colour": "red", "material": "100% mulberry silk", "care": "dry clean only"},
        sales=21,
        images=4,
    ),
    _product(
        "DOWN-JKT-NAVY-XL",
        "轻薄羽绒服 藏青 XL",
        APPAREL,
        49900,
        25,
        "Packable 90% white duck down jacket, 650 fill power, folds into its own pocket.",
        {"size": "XL", "colour": "navy", "material": "nylon shell, 90/10 duck down"},
        sales=64,
    ),
    _product(
        "SOCK-MERINO-3PK",
        "Merino Wool Hiking Socks (3 pairs)",
        APPAREL,
        12900,
        200,
        "Cushioned merino blend socks for walking and everyday wear; one size fits EU 39-44.",
        {"size": "EU 39-44", "colour": "charcoal", "material": "70% merino wool, 28% nylon, 2% elastane"},
        sales=410,
    ),
    _product(
        "CAP-CANVAS-KHK",
        "Canvas Baseball Cap, Khaki",
        APPAREL,
        6900,
        60,
        "Six-panel washed canvas cap with an adjustable brass buckle.",
        {"size": "adjustable", "colour": "khaki", "material": "cotton canvas"},
        sales=73,
    ),
    _product(
        "RAIN-JKT-YEL-M",
        "Packable Rain Jacket, Yellow, M",
        APPAREL,
        25900,
        18,
        "Waterproof (10,000 mm) and breathable shell with taped seams and a stowaway hood.",
        {"size": "M", "colour": "yellow", "material": "2.5-layer nylon"},
        sales=39,
    ),
    # Food & drink / 食品饮料
    _product(
        "DUMPLING-PORK-1KG",
        "手工水饺 (猪肉白菜) 1kg",
        FOOD,
        4590,
        300,
        "Hand-folded pork and napa cabbage dumplings, about 50 pieces, frozen. 煮 6-8 分钟即可。",
        {"weight": "1 kg", "filling": "pork, napa cabbage", "storage": "frozen, -18 °C", "pieces": 50},
        sales=1203,
        images=2,
    ),
    _product(
        "TEA-LONGJING-250G",
        "西湖龙井 明前特级 250g",
        FOOD,
        68800,
        12,
        "Pre-Qingming Longjing green tea from West Lake, pan-fired by hand; chestnut aroma.",
        {"weight": "250 g", "origin": "杭州西湖", "harvest": "2026 spring", "grade": "special"},
        sales=58,
    ),
    _product(
        "TEA-PUER-357G",
        "云南普洱茶饼 357g",
        FOOD,
        39800,
        1,
        "Aged raw (sheng) pu'er cake pressed in 2016 in Menghai, Yunnan. The last cake of this batch.",
        {"weight": "357 g", "origin": "勐海, 云南", "type": "raw (sheng)", "year": 2016},
        sales=44,
    ),
    _product(
        "RICE-WUCHANG-5KG",
        "五常大米 5kg",
        FOOD,
        8990,
        150,
        "Daohuaxiang rice from Wuchang, Heilongjiang: fragrant, slightly sticky, this season's harvest.",
        {"weight": "5 kg", "origin": "五常, 黑龙江", "variety": "稻花香 2号"},
        sales=512,
    ),
    _product(
        "CHILI-CRISP-280G",
        "Crispy Chili in Oil 280g",
        FOOD,
        1590,
        400,
        "Crunchy chili, fried shallot and Sichuan pepper in rapeseed oil. Medium heat.",
        {"weight": "280 g", "heat": "medium", "allergens": "soy, peanut"},
        sales=2310,
    ),
    _product(
        "COFFEE-YUNNAN-500G",
        "Yunnan Arabica Coffee Beans, Medium Roast, 500g",
        FOOD,
        12800,
        45,
        "Washed Catimor from Pu'er, roasted to order; notes of brown sugar and dried apricot.",
        {"weight": "500 g", "roast": "medium", "origin": "Pu'er, Yunnan", "form": "whole bean"},
        sales=190,
    ),
    _product(
        "MOONCAKE-LOTUS-6",
        "莲蓉蛋黄月饼礼盒 (6枚)",
        FOOD,
        16800,
        3,
        "Cantonese-style mooncakes with lotus seed paste and salted duck egg yolk, in a gift box.",
        {"pieces": 6, "weight": "6 × 125 g", "filling": "lotus seed paste, salted egg yolk"},
        sales=95,
        images=2,
    ),
    _product(
        "SOY-SAUCE-LIGHT-500ML",
        "特级生抽 500ml",
        FOOD,
        1290,
        250,
        "Naturally brewed light soy sauce, fermented for 180 days; for dipping and stir-fries.",
        {"volume": "500 ml", "grade": "特级", "allergens": "soy, wheat"},
        sales=870,
    ),
    _product(
        "HONEY-ACACIA-500G",
        "Acacia Honey 500g",
        FOOD,
        6800,
        70,
        "Light, slow-crystallising acacia honey from the Qinling mountains, unheated.",
        {"weight": "500 g", "origin": "秦岭, 陕西", "type": "raw"},
        sales=133,
    ),
    # Machinery parts / 机械配件
    _product(
        "FLANGE-SS304-DN50",
        "不锈钢法兰 DN50",
        MACHINERY,
        8600,
        75,
        "Slip-on plate flange in SS304, PN16, drilled to GB/T 9119; four M16 bolt holes.",
        {"material": "SS304", "nominal_size": "DN50", "pressure_rating": "PN16", "standard": "GB/T 9119"},
        sales=260,
    ),
    _product(
        "BEARING-6204-2RS",
        "Deep Groove Ball Bearing 6204-2RS",
        MACHINERY,
        1850,
        500,
        "Sealed deep groove ball bearing, 20 × 47 × 14 mm, pre-greased; C3 clearance.",
        {"bore_mm": 20, "outer_diameter_mm": 47, "width_mm": 14, "seal": "rubber, both sides"},
        sales=1840,
    ),
    _product(
        "BOLT-M12X50-G88-100",
        "Hex Bolts M12×50 Grade 8.8 (box of 100)",
        MACHINERY,
        9800,
        40,
        "Zinc-plated high-tensile hex bolts, partially threaded, to ISO 4014.",
        {"thread": "M12 × 1.75", "length_mm": 50, "grade": "8.8", "finish": "zinc plated", "quantity": 100},
        sales=310,
    ),
    _product(
        "VBELT-A42",
        "V-Belt A42 (三角带)",
        MACHINERY,
        2400,
        120,
        "Classical wrapped V-belt, section A, 42 inch inside length; oil and heat resistant.",
        {"section": "A", "inside_length_in": 42, "material": "rubber, polyester cord"},
        sales=205,
    ),
    _product(
        "GEARMOTOR-90W-10",
        "减速电机 90W 1:10",
        MACHINERY,
        68000,
        2,
        "Single-phase 220 V induction gear motor, 90 W, ratio 1:10, about 135 rpm output.",
        {"power_w": 90, "voltage": "220 V AC", "ratio": "1:10", "output_rpm": 135},
        sales=12,
    ),
    _product(  # over the approval policy's 2000000: one unit waits for staff, then admin (README's walk)
        "SPINDLE-BT40-12K",
        "电主轴 BT40 12000rpm",
        MACHINERY,
        2380000,
        6,
        "Motorised BT40 spindle for machining centres, 12000 rpm, 15 kW, oil-air lubricated, with its inverter.",
        {"taper": "BT40", "max_rpm": 12000, "power_kw": 15},
        sales=3,
    ),
    _product(
        "VALVE-BALL-DN25",
        "铜球阀 DN25",
        MACHINERY,
        5600,
        90,
        'Forged brass full-bore ball valve, 1" BSP female threads, lever handle, PN25.',
        {"material": "brass", "nominal_size": "DN25", "connection": '1" BSP female', "pressure_rating": "PN25"},
        sales=148,
    ),
    _product(
        "COUPLING-JAW-L075",
        "Jaw Coupling L075",
        MACHINERY,
        3900,
        60,
        "Cast iron jaw coupling hubs with an NBR spider; absorbs shock and small misalignment.",
        {"size": "L075", "bore_mm": 19, "spider": "NBR", "max_rpm": 9000},
        sales=66,
    ),
    _product(
        "HYD-HOSE-12-1M",
        'Hydraulic Hose 1/2" × 1 m, with fittings',
        MACHINERY,
        8800,
        35,
        "Two-wire braided hose to EN 853 2SN with crimped JIC female swivel fittings.",
        {"inside_diameter": '1/2"', "length_m": 1, "standard": "EN 853 2SN", "max_pressure_bar": 275},
        sales=51,
    ),
    _product(
        "CHAIN-08B-5M",
        "Roller Chain 08B, 5 m",
        MACHINERY,
        15600,
        1,
        'Simplex roller chain, 1/2" pitch, ISO 606, with one connecting link. Only one reel left.',
        {"pitch": '1/2"', "standard": "ISO 606 08B-1", "length_m": 5},
        sales=29,
    ),
    # Home / 家居
    _product(
        "MUG-CELADON-350",
        "青瓷马克杯 350ml",
        HOME,
        5900,
        80,
        "Longquan celadon stoneware mug with a crackle glaze; dishwasher safe.",
        {"volume": "350 ml", "material": "stoneware", "colour": "celadon green"},
        sales=221,
        images=2,
    ),
    _product(
        "TOWEL-BAMBOO-2PK",
        "Bamboo Fibre Bath Towels (2 pack)",
        HOME,
        13900,
        55,
        "Soft, quick-drying bath towels, 70 × 140 cm, 550 g/m².",
        {"size": "70 × 140 cm", "material": "70% bamboo viscose, 30% cotton", "colour": "stone"},
        sales=118,
    ),
    _product(
        "WOK-CARBON-32CM",
        "手工铁锅 32cm",
        HOME,
        26800,
        30,
        "Hand-hammered carbon steel wok with a wooden handle, pre-seasoned; works on gas and induction.",
        {"diameter_cm": 32, "material": "carbon steel", "handle": "wood", "hob": "gas, induction"},
        sales=176,
        images=3,
    ),
    _product(
        "DUVET-SILK-200X230",
        "桑蚕丝被 200×230cm",
        HOME,
        139900,
        8,
        "Mulberry silk-filled duvet for spring and autumn, 1.5 kg fill, cotton sateen cover.",
        {"size": "200 × 230 cm", "fill": "1.5 kg mulberry silk", "cover": "cotton sateen", "season": "spring/autumn"},
        sales=17,
    ),
    _product(
        "LAMP-DESK-LED-WHT",
        "LED Desk Lamp, White",
        HOME,
        19900,
        40,
        "Flicker-free desk lamp with five colour temperatures, dimmer and a USB-C charging port.",
        {"colour": "white", "power_w": 10, "colour_temperature": "2700-6500 K", "material": "aluminium"},
        sales=84,
    ),
    _product(
        "KETTLE-GLASS-15L",
        "电热玻璃水壶 1.5L",
        HOME,
        15900,
        3,
        "Borosilicate glass kettle, 1800 W, with auto shut-off and boil-dry protection.",
        {"volume": "1.5 L", "power_w": 1800, "material": "borosilicate glass, stainless steel"},
        sales=92,
    ),
    _product(
        "CHOPSTICKS-WALNUT-10",
        "胡桃木筷子 (10双装)",
        HOME,
        4900,
        150,
        "Black walnut chopsticks finished with food-safe wood oil, 24 cm, no lacquer.",
        {"pairs": 10, "length_cm": 24, "material": "black walnut"},
        sales=305,
    ),
    _product(
        "STORAGE-BOX-3PK",
        "Stackable Storage Boxes (set of 3)",
        HOME,
        8900,
        65,
        "Clear polypropylene boxes with clip-on lids, 12 / 18 / 25 L, stack when full.",
        {"pieces": 3, "volumes": "12 L, 18 L, 25 L", "material": "polypropylene"},
        sales=140,
    ),
)


CATEGORIES = {APPAREL: ("服装 Apparel", 1), FOOD: ("食品饮料 Food & drink", 2),
              MACHINERY: ("机械配件 Machinery parts", 3), HOME: ("家居 Home", 4)}  # fmt: skip

# Variants: the crew-neck tees are one product in two colours and sizes (规格).
VARIANTS = {"TEE-CREW-WHT-M": ("TEE-CREW", {"colour": "白色", "size": "M"}),
            "TEE-CREW-BLK-L": ("TEE-CREW", {"colour": "黑色", "size": "L"})}  # fmt: skip


def seed(repo: CatalogueRepository, pictures: Callable[[Product, int], list[str]] | None = None) -> int:
    """Put the categories and every demo product into the catalogue (``repo.put(Product)``); returns how many.

    ``pictures(product, count)`` stores a product's pictures and returns their URLs (without it, no images).
    """
    from datetime import UTC, datetime

    from chalicelib.adapters.dynamo.catalogue_table import CATEGORY_PK, CategoryRecord
    from chalicelib.domain.orders import iso

    products = [
        replace(product, product_group=VARIANTS[product.sku][0], options=VARIANTS[product.sku][1])
        if product.sku in VARIANTS
        else product
        for product in PRODUCTS
    ]
    now = iso(datetime.now(UTC))
    for key, (name, order) in CATEGORIES.items():
        count = sum(1 for product in products if product.active and product.category == key)
        CategoryRecord(CATEGORY_PK, key, category=key, name=name, sort_order=order, product_count=count,
                       updated_at=now).save()  # fmt: skip
    for product in products:
        if pictures is not None:
            product = replace(product, images=pictures(product, PICTURES[product.sku]))
        repo.put(product)
    return len(products)
