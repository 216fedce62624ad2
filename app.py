"""The Chalice app: creates it and registers the entrypoints. No logic here."""

import logging

from chalice import Chalice

from chalicelib.config import settings
from chalicelib.entrypoints import events, schedules
from chalicelib.entrypoints.http import catalogue, orders, payments, system
from chalicelib.entrypoints.http.errors import reshape_chalice_error

app = Chalice(app_name="orders-api")
logging.getLogger("orders").setLevel(settings.log_level)
for _library in ("botocore", "boto3", "pynamodb", "urllib3"):  # at DEBUG they log whole items: names, addresses
    logging.getLogger(_library).setLevel(logging.WARNING)

app.register_blueprint(system.api)
app.register_blueprint(catalogue.api)
app.register_blueprint(orders.api)
app.register_blueprint(payments.api)
app.register_blueprint(schedules.api)
app.register_blueprint(events.api)


@app.middleware("http")
def contract_errors(event, get_response):
    """Errors Chalice answers itself (405, 415, ...) in the contract's shape."""
    return reshape_chalice_error(get_response(event))
