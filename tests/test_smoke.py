from tests.conftest import order_body


def test_place_and_read_order(api, seed, place):
    seed("TEE-1", stock=5, price=1999, name="纯棉T恤")
    reply = place(("TEE-1", 2))
    assert reply.status == 201, reply.body
    order = reply.body
    assert order["total"] == 3998
    again = api.get(f"/orders/{order['order_id']}", as_="customer")
    assert again.status == 200, again.body
    assert again.body["timeline"][0]["type"] == "order_placed"
    assert api.get("/products/TEE-1").body["stock_available"] == 3
    assert order_body  # imported helper exists
