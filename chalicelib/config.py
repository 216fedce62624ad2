"""Settings read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Settings:
    region: str
    orders_table: str
    products_table: str
    currency: str
    payment_ttl_minutes: int
    max_body_bytes: int
    user_pool_arn: str
    cors_allow_origin: str
    log_level: str
    json_logs: bool  # JSON lines through Powertools Logger: in Lambda (LOG_FORMAT=json|text overrides)
    offline_payment_ttl_hours: int
    bank_details: dict[str, str]
    stripe_api_base: str | None
    stripe_secrets_parameter: str | None  # in AWS: SSM path holding api_key and webhook_secret
    staff_topic_arn: str = ""
    customer_topic_arn: str = ""
    fulfilment_requests_queue_url: str = ""
    fulfilment_max_receives: int = 5  # the fulfilment-updates queue's maxReceiveCount
    order_number_block: int = 1  # order numbers taken per counter write (see adapters/dynamo/order_numbers.py)
    receipts_bucket: str = "receipts"  # the private bucket of payment vouchers (set by the template in AWS)
    business_name: str = "Orders shop"  # printed at the top of every payment voucher
    receipt_link_seconds: int = 300  # how long a voucher's presigned download link works
    approval_ttl_hours: int = 48  # how long an order waits for approval before it expires
    audit_table: str = "audit"  # the audit log (append-only by IAM: adapters/dynamo/audit_repo.py)
    catalogue_table: str = "catalogue"  # categories and every SKU's stock movements (adapters/dynamo/stock_ledger.py)
    jobs_table: str = "jobs"  # imports and exports: their status and what they have done
    images_bucket: str = "images"  # the private bucket of product images (set by the template in AWS)
    images_base_url: str = ""  # where images are served: the CloudFront distribution; unset, the bucket's own URL
    image_upload_seconds: int = 600  # how long a presigned image upload (POST) works
    imports_bucket: str = "imports"  # the private bucket of import files (set by the template in AWS)
    import_uploads_queue_url: str = ""  # the import worker's queue: S3's notifications and "apply on" messages
    import_max_receives: int = 5  # that queue's maxReceiveCount: the import is marked failed on that receive
    import_chunk_rows: int = 1000  # rows one invocation of the import worker applies at most (and its time)
    import_upload_seconds: int = 900  # how long an import's presigned upload (POST) works
    exports_bucket: str = "exports"  # the private bucket of export files (set by the template in AWS)
    export_jobs_queue_url: str = ""  # the export worker's queue
    export_max_receives: int = 3  # that queue's maxReceiveCount: the export is marked failed on that receive
    export_link_seconds: int = 900  # how long a finished export's presigned download link works
    stripe_api_key: str | None = field(default=None, repr=False)  # locally / CI only, never logged
    stripe_webhook_secret: str | None = field(default=None, repr=False)


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def load() -> Settings:
    return Settings(
        region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        orders_table=os.environ.get("ORDERS_TABLE", "orders"),
        products_table=os.environ.get("PRODUCTS_TABLE", "products"),
        currency=os.environ.get("CURRENCY", "CNY"),
        payment_ttl_minutes=_int("PAYMENT_TTL_MINUTES", 30),
        max_body_bytes=_int("MAX_BODY_BYTES", 65536),
        user_pool_arn=os.environ.get(
            "USER_POOL_ARN",
            "arn:aws:cognito-idp:us-east-1:000000000000:userpool/us-east-1_placeholder",
        ),
        cors_allow_origin=os.environ.get("CORS_ALLOW_ORIGIN", "*"),
        log_level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        json_logs=os.environ.get("LOG_FORMAT", "json" if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") else "text")
        == "json",
        offline_payment_ttl_hours=_int("OFFLINE_PAYMENT_TTL_HOURS", 72),
        bank_details={
            key: os.environ[name]
            for key, name in (
                ("account_name", "BANK_ACCOUNT_NAME"),
                ("account_number", "BANK_ACCOUNT_NUMBER"),
                ("bank", "BANK_NAME"),
            )
            if os.environ.get(name)
        },
        stripe_api_base=os.environ.get("STRIPE_API_BASE") or None,
        stripe_secrets_parameter=os.environ.get("STRIPE_SECRETS_PARAMETER") or None,
        staff_topic_arn=os.environ.get("STAFF_TOPIC_ARN", ""),
        customer_topic_arn=os.environ.get("CUSTOMER_TOPIC_ARN", ""),
        fulfilment_requests_queue_url=os.environ.get("FULFILMENT_REQUESTS_QUEUE_URL", ""),
        fulfilment_max_receives=_int("FULFILMENT_MAX_RECEIVES", 5),
        order_number_block=max(_int("ORDER_NUMBER_BLOCK", 1), 1),
        receipts_bucket=os.environ.get("RECEIPTS_BUCKET", "receipts"),
        business_name=os.environ.get("BUSINESS_NAME", "").strip() or "Orders shop",
        receipt_link_seconds=min(max(_int("RECEIPT_LINK_SECONDS", 300), 1), 3600),
        approval_ttl_hours=_int("APPROVAL_TTL_HOURS", 48),
        audit_table=os.environ.get("AUDIT_TABLE", "audit"),
        catalogue_table=os.environ.get("CATALOGUE_TABLE", "catalogue"),
        jobs_table=os.environ.get("JOBS_TABLE", "jobs"),
        images_bucket=os.environ.get("IMAGES_BUCKET", "images"),
        images_base_url=os.environ.get("IMAGES_BASE_URL", "").strip().rstrip("/"),
        image_upload_seconds=min(max(_int("IMAGE_UPLOAD_SECONDS", 600), 60), 3600),
        imports_bucket=os.environ.get("IMPORTS_BUCKET", "imports"),
        import_uploads_queue_url=os.environ.get("IMPORT_UPLOADS_QUEUE_URL", ""),
        import_max_receives=max(_int("IMPORT_MAX_RECEIVES", 5), 1),
        import_chunk_rows=min(max(_int("IMPORT_CHUNK_ROWS", 1000), 1), 10_000),
        import_upload_seconds=min(max(_int("IMPORT_UPLOAD_SECONDS", 900), 60), 3600),
        exports_bucket=os.environ.get("EXPORTS_BUCKET", "exports"),
        export_jobs_queue_url=os.environ.get("EXPORT_JOBS_QUEUE_URL", ""),
        export_max_receives=max(_int("EXPORT_MAX_RECEIVES", 3), 1),
        export_link_seconds=min(max(_int("EXPORT_LINK_SECONDS", 900), 60), 3600),
        stripe_api_key=os.environ.get("STRIPE_API_KEY") or None,
        stripe_webhook_secret=os.environ.get("STRIPE_WEBHOOK_SECRET") or None,
    )


settings = load()
