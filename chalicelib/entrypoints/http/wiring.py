"""The composition root: concrete adapters handed to the services, built once per container.

Every AWS client comes from one botocore session (``chalicelib.adapters.aws``), PynamoDB's
connections included: ``aws.share_with_pynamodb()`` runs before the first repository is built.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache

from chalicelib.config import settings
from chalicelib.services.changes import Changes
from chalicelib.services.orders import OrderService


@cache
def catalogue():
    from chalicelib.adapters import aws
    from chalicelib.adapters.dynamo.catalogue_repo import CatalogueRepository

    aws.share_with_pynamodb()
    return CatalogueRepository()


@cache
def orders_repo():
    from chalicelib.adapters import aws
    from chalicelib.adapters.dynamo.orders_repo import OrdersRepository

    aws.share_with_pynamodb()
    pricing = pricing_settings()
    return OrdersRepository(policy_cache=approval_policies(), setting_caches=(pricing.tiers, pricing.shipping))


@cache
def orders() -> OrderService:
    return OrderService(
        orders=orders_repo(),
        catalogue=catalogue(),
        currency=settings.currency,
        payment_ttl=timedelta(minutes=settings.payment_ttl_minutes),
        reviewer=lambda principal: approvals().reviewer(principal),
        terms=lambda tier, country: pricing_settings().terms(tier, country),
    )


@cache
def approval_policies():
    from chalicelib.adapters import aws
    from chalicelib.adapters.dynamo.approvals_repo import ApprovalPolicyRepository

    aws.share_with_pynamodb()
    return ApprovalPolicyRepository()


@cache
def approvals():
    from chalicelib.adapters.dynamo.approvals_repo import ApprovalQueueRepository
    from chalicelib.services.approvals import ApprovalService

    return ApprovalService(
        changes=changes(),
        policies=approval_policies(),
        queue=ApprovalQueueRepository(),
        payment_ttl=timedelta(minutes=settings.payment_ttl_minutes),
        approval_ttl=timedelta(hours=settings.approval_ttl_hours),
    )


@cache
def cart():
    from chalicelib.adapters.dynamo.cart_repo import CartRepository
    from chalicelib.services.cart import CartService

    orders_repo()  # shares the session with PynamoDB first
    return CartService(carts=CartRepository(), catalogue=catalogue(), orders=orders(), currency=settings.currency,
                       terms=lambda sub, country: pricing_settings().terms(customers().tier_of(sub), country))  # fmt: skip


@cache
def audit_log():
    from chalicelib.adapters import aws
    from chalicelib.adapters.dynamo.audit_repo import AuditRepository
    from chalicelib.services.audit import AuditLog

    aws.share_with_pynamodb()
    return AuditLog(AuditRepository())


@cache
def payment_provider():
    """Stripe: imported and keyed on first use (one SSM read per container in AWS)."""
    from chalicelib.adapters.secrets import stripe_keys
    from chalicelib.adapters.stripe_gateway import StripeGateway

    keys = stripe_keys()
    return StripeGateway(keys.api_key, keys.webhook_secret, api_base=settings.stripe_api_base)


@cache
def changes() -> Changes:
    return Changes(orders=orders_repo(), provider=lambda: payment_provider())


@cache
def payments():
    from chalicelib.services.payments import PaymentService

    return PaymentService(
        changes=changes(),
        offline_ttl=timedelta(hours=settings.offline_payment_ttl_hours),
        bank_details=settings.bank_details,
    )


@cache
def directory():
    from chalicelib.adapters.cognito_directory import CognitoDirectory

    return CognitoDirectory(settings.user_pool_arn)


@cache
def edits():
    from chalicelib.services.edits import EditService

    return EditService(changes=changes(), catalogue=catalogue(), payments=payments(), approvals=approvals())


@cache
def webhooks():
    from chalicelib.services.webhooks import StripeWebhooks

    return StripeWebhooks(changes())


@cache
def schedules():
    from chalicelib.services.schedules import PaymentSchedules

    return PaymentSchedules(changes())


@cache
def fulfilment():
    from chalicelib.services.fulfilment import FulfilmentService

    return FulfilmentService(changes())


@cache
def receipts():
    """Payment vouchers: the PDF renderer (reportlab, imported only when a voucher is drawn) and the S3 bucket."""
    from chalicelib.adapters.receipt_pdf import render
    from chalicelib.adapters.receipts_store import S3Receipts
    from chalicelib.services.receipts import ReceiptService

    return ReceiptService(
        orders=orders_repo(),
        store=S3Receipts(settings.receipts_bucket),
        render=render,
        business_name=settings.business_name,
        link_seconds=settings.receipt_link_seconds,
    )


@cache
def product_images():
    """Product images: presigned uploads to the images bucket, and listing what arrives there on the product."""
    from chalicelib.adapters import aws
    from chalicelib.adapters.dynamo.product_images import ProductImagesRepository
    from chalicelib.adapters.images_store import S3Images
    from chalicelib.services.product_images import ProductImageService

    aws.share_with_pynamodb()
    store = S3Images(settings.images_bucket)
    return ProductImageService(
        catalogue=catalogue(),
        images=ProductImagesRepository(),
        store=store,
        base_url=settings.images_base_url or store.default_base_url(),
        upload_seconds=settings.image_upload_seconds,
    )


@cache
def notifier():
    from chalicelib.adapters.messaging import SnsNotifier

    return SnsNotifier(settings.staff_topic_arn, settings.customer_topic_arn)


@cache
def dispatcher():
    from chalicelib.adapters.dynamo.markers_repo import SentMarkersRepository
    from chalicelib.adapters.messaging import SqsFulfilmentRequests
    from chalicelib.services.notify import EventDispatcher

    return EventDispatcher(
        orders=orders_repo(),
        notifier=notifier(),
        fulfilment_requests=SqsFulfilmentRequests(settings.fulfilment_requests_queue_url),
        markers=SentMarkersRepository(),
    )


def dead_letter_alert(reason: str, body: str, message_id: str, receives: int) -> None:
    """Tell staff a fulfilment update is about to be dead-lettered (its last attempt failed)."""
    from chalicelib.domain.notifications import dead_letter
    from chalicelib.domain.orders import iso

    notifier().publish(dead_letter(reason, body, message_id, receives, iso(changes().clock())))


@cache
def product_admin():
    from chalicelib.adapters import aws
    from chalicelib.adapters.dynamo.product_store import ProductStore
    from chalicelib.services.products import ProductAdmin

    aws.share_with_pynamodb()
    return ProductAdmin(store=ProductStore(), currency=settings.currency)


@cache
def stock():
    from chalicelib.adapters import aws
    from chalicelib.adapters.dynamo.stock_repo import StockRepository
    from chalicelib.services.stock import StockService

    aws.share_with_pynamodb()
    return StockService(repo=StockRepository())


@cache
def import_files():
    """The imports bucket and the import worker's queue (S3 and SQS clients made on first use)."""
    from chalicelib.adapters.imports_store import S3Imports, SqsImportJobs

    return S3Imports(settings.imports_bucket), SqsImportJobs(settings.import_uploads_queue_url)


@cache
def customers():
    from chalicelib.adapters.dynamo.customers_repo import CustomersRepository
    from chalicelib.services.customers import CustomerService

    orders_repo()  # shares the session with PynamoDB first
    return CustomerService(customers=CustomersRepository(), standing=lambda sub: tier_keeper().standing(sub))


@cache
def tickets():
    from chalicelib.adapters.dynamo.tickets_repo import TicketsRepository
    from chalicelib.services.tickets import TicketService

    orders = orders_repo()  # shares the session with PynamoDB first
    return TicketService(tickets=TicketsRepository(), find_order=orders.get)


def ticket_announcer():
    """The tickets' notifications, through the one notifier and the stream's sent-markers."""
    from chalicelib.adapters.dynamo.markers_repo import SentMarkersRepository
    from chalicelib.services.tickets import TicketAnnouncer

    return TicketAnnouncer(notifier=notifier(), markers=SentMarkersRepository())


@cache
def reviews():
    from chalicelib.adapters.dynamo.reviews_repo import ReviewsRepository
    from chalicelib.services.reviews import ReviewService

    orders = orders_repo()  # shares the session with PynamoDB first
    people = customers().customers

    def name(customer_id: str) -> str | None:
        profile = people.profile(customer_id)
        return profile.name if profile else None

    return ReviewService(reviews=ReviewsRepository(), find_order=orders.get, find_name=name)


@cache
def ratings():
    """The products' ratings, kept from the orders stream (each review's rating added once)."""
    from chalicelib.adapters.dynamo.reviews_repo import ProductRatings
    from chalicelib.services.reviews import RatingKeeper

    orders_repo()  # shares the session with PynamoDB first
    return RatingKeeper(ProductRatings())


@cache
def imports_repo():
    from chalicelib.adapters import aws
    from chalicelib.adapters.dynamo.imports_repo import ImportsRepository

    aws.share_with_pynamodb()
    return ImportsRepository()


@cache
def imports():
    from chalicelib.adapters.imports_store import upload_key
    from chalicelib.services.imports import ImportService

    files, queue = import_files()
    return ImportService(jobs=imports_repo(), files=files, queue=queue, upload_key=upload_key,
                         upload_seconds=settings.import_upload_seconds)  # fmt: skip


@cache
def import_worker():
    """Checking and applying imports: openpyxl is imported by the file reader, only when a workbook is read."""
    from chalicelib.adapters import import_files as readers
    from chalicelib.adapters.imports_store import rows_key
    from chalicelib.services.import_worker import ImportWorker

    files, queue = import_files()
    admin = product_admin()
    return ImportWorker(
        jobs=imports_repo(), files=files, queue=queue, catalogue=catalogue(),
        categories=lambda: [category.category for category in admin.categories()], products=admin, stock=stock(),
        read_file=readers.rows, rows_key=rows_key, currency=settings.currency, chunk_rows=settings.import_chunk_rows,
    )  # fmt: skip


@cache
def export_files():
    """The exports bucket and the export worker's queue (S3 and SQS clients made on first use)."""
    from chalicelib.adapters.export_files import S3Exports, SqsExportJobs

    return S3Exports(settings.exports_bucket), SqsExportJobs(settings.export_jobs_queue_url)


@cache
def exports_repo():
    from chalicelib.adapters import aws
    from chalicelib.adapters.dynamo.exports_repo import ExportsRepository

    aws.share_with_pynamodb()
    return ExportsRepository()


@cache
def exports():
    from chalicelib.services.exports import ExportService

    files, queue = export_files()
    return ExportService(jobs=exports_repo(), files=files, queue=queue, link_seconds=settings.export_link_seconds)


@cache
def export_worker():
    """Building exports: XlsxWriter is imported by the file writer, only when a workbook is written."""
    from chalicelib.adapters import export_files as writers
    from chalicelib.adapters.dynamo.export_sources import SOURCES
    from chalicelib.services.exports import ExportWorker

    files, _ = export_files()
    return ExportWorker(jobs=exports_repo(), files=files, source=lambda kind, filters: SOURCES[kind](filters),
                        object_key=writers.object_key, write=writers.write)  # fmt: skip


@cache
def pricing_settings():
    """The tier table and shipping settings, each read through its own short cache."""
    from chalicelib.adapters import aws
    from chalicelib.adapters.dynamo import pricing_settings as stored
    from chalicelib.services.pricing_settings import PricingSettings

    aws.share_with_pynamodb()
    return PricingSettings(tiers=stored.tier_table(), shipping=stored.shipping_settings())


@cache
def tier_keeper():
    """Each customer's tier from what they paid (the orders stream, the daily sweep)."""
    from chalicelib.adapters.dynamo.customers_repo import CustomersRepository
    from chalicelib.adapters.dynamo.spend_repo import SpendRepository
    from chalicelib.services.tiers import TierKeeper

    orders_repo()  # shares the session with PynamoDB first
    return TierKeeper(spend=SpendRepository(), profiles=CustomersRepository(),
                      tier_table=lambda: pricing_settings().tier_table())  # fmt: skip


def tier_announcer():
    from chalicelib.adapters.dynamo.markers_repo import SentMarkersRepository
    from chalicelib.services.tiers import TierAnnouncer

    return TierAnnouncer(notifier=notifier(), markers=SentMarkersRepository())
