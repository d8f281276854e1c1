"""Demo catalog for ``manage.py seed_demo``: categories, 30 products, 2 locations with stock."""

from decimal import Decimal

from catalog import services
from catalog.models import Category, Location, Product, StockLevel
from shopops.models import Merchant

CATEGORIES = [("Apparel", "apparel"), ("Footwear", "footwear"), ("Accessories", "accessories"), ("Home", "home")]

LOCATIONS = [
    {
        "nickname": "blr-wh", "name": "Bengaluru warehouse", "contact_name": "Ravi Kumar", "phone": "+918041234567",
        "email": "blr@demo-store.example", "line1": "Plot 14, KIADB Industrial Area", "line2": "Hoskote",
        "city": "Bengaluru", "state": "Karnataka", "postcode": "562114", "country": "IN",
    },
    {
        "nickname": "mum-store", "name": "Mumbai store", "contact_name": "Asha Patil", "phone": "+912226543210",
        "email": "mumbai@demo-store.example", "line1": "21 Linking Road", "line2": "Bandra West",
        "city": "Mumbai", "state": "Maharashtra", "postcode": "400050", "country": "IN",
    },
]  # fmt: skip

# (sku prefix, title, category, brand, hsn, tax %, price, mrp, grams, (l, b, h) cm, specs, variants)
FAMILIES = [
    ("TEE", "Cotton crew T-shirt", "apparel", "Loomwear", "6109", "5", "499", "699", 180, (28, 22, 2),
     {"material": "100% cotton", "fit": "regular"}, [("RED-M", {"colour": "red", "size": "M"}),
     ("RED-L", {"colour": "red", "size": "L"}), ("BLK-M", {"colour": "black", "size": "M"}),
     ("BLK-L", {"colour": "black", "size": "L"})]),
    ("JEAN", "Slim fit jeans", "apparel", "Indigo Co", "6203", "12", "1799", "2499", 650, (35, 28, 5),
     {"material": "denim, 2% elastane"}, [("30", {"waist": "30"}), ("32", {"waist": "32"}), ("34", {"waist": "34"})]),
    ("KURTA", "Linen kurta", "apparel", "Loomwear", "6211", "12", "1299", "1599", 300, (32, 25, 3),
     {"material": "linen"}, [("WHT-M", {"colour": "white", "size": "M"}), ("BLU-L", {"colour": "blue", "size": "L"})]),
    ("RUN", "Running shoes", "footwear", "Stride", "6404", "18", "3499", "4999", 820, (33, 22, 12),
     {"sole": "EVA", "upper": "mesh"}, [("UK7", {"size": "UK 7"}), ("UK8", {"size": "UK 8"}),
     ("UK9", {"size": "UK 9"}), ("UK10", {"size": "UK 10"})]),
    ("SLIP", "Leather sandals", "footwear", "Stride", "6403", "18", "1499", "1999", 540, (30, 18, 9),
     {"upper": "leather"}, [("UK8", {"size": "UK 8"}), ("UK9", {"size": "UK 9"})]),
    ("BAG", "Canvas tote bag", "accessories", "Carry", "4202", "18", "699", "899", 350, (40, 35, 4),
     {"material": "canvas", "capacity_l": 15}, [("NAT", {"colour": "natural"}), ("BLK", {"colour": "black"})]),
    ("WAL", "Leather wallet", "accessories", "Carry", "4202", "18", "999", "1299", 120, (12, 10, 2),
     {"material": "leather", "slots": 6}, [("BRN", {"colour": "brown"}), ("BLK", {"colour": "black"})]),
    ("CAP", "Baseball cap", "accessories", "Loomwear", "6505", "12", "399", "499", 90, (25, 20, 12),
     {"adjustable": True}, [("NVY", {"colour": "navy"}), ("KHK", {"colour": "khaki"})]),
    ("MUG", "Stoneware mug 350 ml", "home", "Hearth", "6912", "12", "349", "449", 420, (12, 12, 11),
     {"capacity_ml": 350, "dishwasher_safe": True}, [("TEAL", {"colour": "teal"}), ("SAND", {"colour": "sand"})]),
    ("CUSH", "Cotton cushion cover", "home", "Hearth", "6304", "12", "549", "699", 200, (45, 45, 1),
     {"size_cm": "45x45"}, [("MUST", {"colour": "mustard"}), ("GRY", {"colour": "grey"})]),
    ("LAMP", "Brass table lamp", "home", "Hearth", "9405", "18", "2899", "3499", 1900, (30, 30, 45),
     {"material": "brass", "bulb": "E27"}, [("STD", {})]),
    ("BOTL", "Steel water bottle 1 l", "home", "Hearth", "7323", "12", "799", "999", 380, (8, 8, 28),
     {"capacity_ml": 1000, "insulated": True}, [("SLV", {"colour": "silver"}), ("GRN", {"colour": "green"})]),
    ("SOCK", "Bamboo socks, 3 pairs", "apparel", "Loomwear", "6115", "5", "449", "599", 150, (20, 12, 4),
     {"material": "bamboo"}, [("FREE", {"size": "free"})]),
    ("BELT", "Reversible leather belt", "accessories", "Carry", "4203", "18", "899", "1199", 260, (36, 8, 5),
     {"material": "leather"}, [("STD", {})]),
]  # fmt: skip


def seed(*, merchant: Merchant, stdout) -> None:
    categories = {}
    for name, slug in CATEGORIES:
        categories[slug] = Category.objects.filter(merchant=merchant, slug=slug).first() or services.category_create(
            merchant=merchant, name=name, slug=slug
        )
    locations = []
    for data in LOCATIONS:
        location = Location.objects.filter(merchant=merchant, nickname=data["nickname"]).first()
        locations.append(location or services.location_create(merchant=merchant, data=data))

    created = 0
    for index, (prefix, title, category, brand, hsn, tax, price, mrp, grams, dims, specs, variants) in enumerate(
        FAMILIES
    ):
        for variant_index, (suffix, variant_specs) in enumerate(variants):
            sku = f"{prefix}-{suffix}"
            product = Product.objects.filter(merchant=merchant, sku=sku).first()
            if product is None:
                detail = ", ".join(str(v) for v in variant_specs.values())
                product = services.product_create(
                    merchant=merchant,
                    data={
                        "sku": sku, "title": f"{title}{f' ({detail})' if detail else ''}", "brand": brand,
                        "category": categories[category], "specs": {**specs, **variant_specs}, "hsn_code": hsn,
                        "tax_rate": Decimal(tax), "price": Decimal(price), "mrp": Decimal(mrp), "weight_grams": grams,
                        "length_cm": Decimal(dims[0]), "breadth_cm": Decimal(dims[1]), "height_cm": Decimal(dims[2]),
                        "description": f"{title} by {brand}.",
                    },
                )  # fmt: skip
                created += 1
            for location_index, location in enumerate(locations):
                if StockLevel.objects.filter(product=product, location=location).exists():
                    continue
                quantity = (index * 7 + variant_index * 5 + location_index * 11) % 40
                services.stock_adjust(
                    merchant=merchant, product=product, location=location, action="set", quantity=quantity,
                    reason="opening stock", actor="system", reference="seed_demo",
                )  # fmt: skip
                services.stock_set_threshold(
                    level=StockLevel.objects.get(product=product, location=location), low_stock_threshold=5
                )
    total = Product.objects.filter(merchant=merchant).count()
    stdout.write(f"Demo catalog:  {total} products ({created} new), {len(locations)} locations with stock")
