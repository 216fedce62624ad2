"""The Chalice app: creates it and registers the entrypoints. No logic here."""

import gc
import logging

# A cold start makes many objects that live as long as the container (modules, models, schemas, clients):
# collecting garbage while they are made is wasted work. Collection resumes after the first event, with what
# exists by then frozen (never scanned again): see chalicelib/entrypoints/warm.py.
gc.disable()

from chalice import Chalice

from chalicelib.config import settings
from chalicelib.entrypoints import events, exports_worker, imports_worker, observability, schedules
from chalicelib.entrypoints.http import (
    approvals,
    audit,
    cart,
    catalogue,
    customers,
    exports,
    imports,
    orders,
    payments,
    pricing_settings,
    product_images,
    receipts,
    reviews,
    staff_catalogue,
    staff_orders,
    staff_tickets,
    stock,
    system,
    tickets,
)
from chalicelib.entrypoints.http.errors import reshape_chalice_error
from chalicelib.entrypoints.warm import after_first_event

app = Chalice(app_name="orders-api")
app.api.binary_types.append(imports.XLSX)  # the import template workbook (sent to an Accept naming it)
observability.install(settings.log_level, json_logs=settings.json_logs)
for _library in ("botocore", "boto3", "pynamodb", "urllib3"):  # at DEBUG they log whole items: names, addresses
    logging.getLogger(_library).setLevel(logging.WARNING)

app.register_blueprint(system.api)
app.register_blueprint(catalogue.api)
app.register_blueprint(cart.api)
app.register_blueprint(orders.api)
app.register_blueprint(payments.api)
app.register_blueprint(staff_orders.api)
app.register_blueprint(receipts.api)
app.register_blueprint(approvals.api)
app.register_blueprint(schedules.api)
app.register_blueprint(events.api)
app.register_blueprint(audit.api)
app.register_blueprint(staff_catalogue.api)
app.register_blueprint(stock.api)
app.register_blueprint(product_images.api)
app.register_blueprint(imports.api)
app.register_blueprint(imports_worker.api)
app.register_blueprint(customers.api)
app.register_blueprint(exports.api)
app.register_blueprint(exports_worker.api)
app.register_blueprint(tickets.api)
app.register_blueprint(staff_tickets.api)
app.register_blueprint(pricing_settings.api)
app.register_blueprint(reviews.api)


@app.middleware("all")
def invocation(event, get_response):
    """Every invocation: its correlation id on each log line, its metrics published at the end, and after a
    container's first event of any kind (request, record, schedule) garbage is collected again."""
    observability.begin(event)
    try:
        return get_response(event)
    finally:
        observability.end()
        after_first_event()


@app.middleware("http")
def contract_errors(event, get_response):
    """Errors Chalice answers itself (405, 415, ...) in the contract's shape."""
    return reshape_chalice_error(get_response(event))
