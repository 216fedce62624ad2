"""``python -m devstack`` (``make run``): the whole local stack in one process.

AWS emulated on 127.0.0.1 (moto), the tables and user pool made from the same
definitions as infra/ (queues and topics included), four demo accounts, a demo
catalogue, and the API behind a gateway that verifies Cognito tokens as API
Gateway does, and a local stand-in for Stripe's API that posts signed webhooks to
the API (unless STRIPE_API_KEY is set: then the app talks to Stripe's test mode).
Besides HTTP it runs what AWS would: the schedules, the orders and products stream
handlers, the fulfilment-updates consumer, the image-uploads consumer (S3's notifications of
uploaded product images, which the emulator delivers) and the import worker (S3's
notifications of uploaded import files, delivered the same way, and the worker's own
messages), and it prints the staff and customer notifications as they are published.
It writes env.json for scripts, refuses to
start twice, and stops cleanly on Ctrl-C or SIGTERM.

Only the standard library is imported up front: moto, boto3, chalice and the app
are imported once the lock is held and the environment points at the emulator
(``chalicelib.config`` reads the environment at import).
"""

from __future__ import annotations

import errno
import json
import logging
import math
import os
import secrets
import signal
import socket
import sys
import threading
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from devstack import state
from devstack.awsenv import REGION, use_emulator
from devstack.banner import banner

if TYPE_CHECKING:
    from chalice.config import Config
    from chalice.local import LocalDevServer

    from devstack.stripe_standin import StripeStandInServer

HOST = "127.0.0.1"
DEFAULT_API_PORT = 8000
DEFAULT_AWS_PORT = 4566
DEFAULT_SCHEDULE_SECONDS = 10.0
DEFAULT_EVENT_SECONDS = 1.0
QUEUE_VISIBILITY_SECONDS = 5  # the local queues' visibility timeout: a failed message is retried 5 s later
DEFAULT_STRIPE_PORT = 12111
LOCAL_STRIPE_KEY = "sk_test_devstack_local"
CHALICE_STAGE = "dev"
DEMO_BANK = {
    "BANK_NAME": "Demo Bank (local stack)",
    "BANK_ACCOUNT_NAME": "Demo Shop Ltd",
    "BANK_ACCOUNT_NUMBER": "6222 0000 0000 0000 000",
}
DEMO_PASSWORD = "demo-password-1"  # the pool wants 10+ characters, a lowercase letter and a number
DEMO_ACCOUNTS = (
    ("customer1@demo.local", "customer"),
    ("customer2@demo.local", "customer"),
    ("staff@demo.local", "staff"),
    ("admin@demo.local", "admin"),
)


class Stopped(BaseException):
    """SIGINT or SIGTERM, raised in the main thread (a BaseException, as KeyboardInterrupt is, so nothing swallows it)."""


class StackError(Exception):
    """Why the stack cannot start, in a sentence for the user (no traceback)."""


@dataclass(frozen=True)
class Options:
    api_port: int
    aws_port: int
    directory: Path
    default_directory: bool
    stripe_port: int
    real_stripe: bool  # STRIPE_API_KEY is set: Stripe's test mode, no stand-in
    stripe_webhook_secret: str | None  # the shell's, used with Stripe's test mode (from `stripe listen`)
    schedule_seconds: float = DEFAULT_SCHEDULE_SECONDS  # 0: schedules off
    event_seconds: float = DEFAULT_EVENT_SECONDS  # 0: streams and queue not pumped, notifications not printed

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Options:
        api_port = _port(environ, ("DEVSTACK_PORT", "PORT"), DEFAULT_API_PORT)
        aws_port = _port(environ, ("DEVSTACK_AWS_PORT",), DEFAULT_AWS_PORT)
        stripe_port = _port(environ, ("DEVSTACK_STRIPE_PORT",), DEFAULT_STRIPE_PORT)
        if api_port == aws_port != 0:
            raise StackError(
                f"the API and the AWS emulator cannot share port {api_port}; set PORT or DEVSTACK_AWS_PORT."
            )
        key = environ.get("STRIPE_API_KEY", "").strip()
        if key.startswith(("sk_live_", "rk_live_")):
            raise StackError("STRIPE_API_KEY is a live key; the local stack takes only test mode keys (sk_test_...).")
        if not key and stripe_port != 0 and stripe_port in (api_port, aws_port):
            raise StackError(
                f"the Stripe stand-in cannot share port {stripe_port} with the API or the AWS emulator; "
                "set DEVSTACK_STRIPE_PORT."
            )
        directory = state.state_dir(dict(environ))
        secret = environ.get("STRIPE_WEBHOOK_SECRET", "").strip() or None
        return cls(
            api_port,
            aws_port,
            directory,
            not environ.get("DEVSTACK_DIR"),
            stripe_port,
            bool(key),
            secret,
            _seconds(environ, "DEVSTACK_SCHEDULE_SECONDS", DEFAULT_SCHEDULE_SECONDS),
            _seconds(environ, "DEVSTACK_EVENT_SECONDS", DEFAULT_EVENT_SECONDS),
        )


@dataclass(frozen=True)
class Provisioned:
    endpoint: str
    tables: dict[str, str]  # logical name in infra/ -> table name
    user_pool_id: str
    client_id: str
    queues: dict[str, str]  # name (fulfilment-updates, ...) -> URL
    topics: dict[str, str]  # staff, customer -> ARN
    buckets: dict[str, str] = field(default_factory=dict)  # receipts, images, imports -> bucket name


@dataclass(frozen=True)
class Payments:
    """How the app reaches Stripe: the local stand-in (``server``, ``api_base``) or, both None, Stripe's test mode."""

    webhook_secret: str
    api_base: str | None
    server: StripeStandInServer | None


def _port(environ: Mapping[str, str], names: tuple[str, ...], default: int) -> int:
    for name in names:
        raw = environ.get(name, "").strip()
        if raw:
            if not raw.isdigit() or int(raw) > 65535:
                raise StackError(f"{name}={raw!r} is not a port number (0-65535).")
            return int(raw)
    return default


def _seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name, "").strip() or str(default)
    try:
        value = float(raw)
    except ValueError:
        raise StackError(f"{name} must be a number of seconds, not {raw!r}.") from None
    if not math.isfinite(value):
        raise StackError(f"{name} must be a number of seconds, not {raw!r}.")
    return max(value, 0.0)


def _stop(signum: int, frame: Any) -> None:
    raise Stopped(signum)


def _ignore_signals() -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)


def main() -> int:
    """Run the stack until SIGINT/SIGTERM; 0 when stopped that way, 1 when it could not start or failed."""
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(errors="backslashreplace")  # Chinese names on a terminal that cannot show them
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    cleanup = ExitStack()
    stopped, code = False, 1
    try:
        _serve(Options.from_environ(os.environ), cleanup)
    except Stopped:
        stopped, code = True, 0
    except StackError as error:
        print(f"make run: {error}", file=sys.stderr)
        code = 1
    finally:
        _ignore_signals()  # a second Ctrl-C must not interrupt the clean-up
        if stopped:
            print("\nStopping the local stack...", file=sys.stderr, flush=True)
        cleanup.close()
    if stopped:
        print("Stopped.", file=sys.stderr)
    return code


def _serve(options: Options, cleanup: ExitStack) -> NoReturn:
    """Start everything, registering in ``cleanup`` how to undo each step, then wait for a signal (``Stopped``)."""
    lock = state.RunLock(options.directory)
    if not lock.acquire():
        raise StackError(_already_running(lock, options))
    cleanup.callback(lock.release)
    _check_free(options.api_port, "the API", "PORT")
    _check_free(options.aws_port, "the AWS emulator", "DEVSTACK_AWS_PORT")
    if not options.real_stripe:
        _check_free(options.stripe_port, "the Stripe stand-in", "DEVSTACK_STRIPE_PORT")
    print(f"Starting the local stack (pid {os.getpid()})...", file=sys.stderr, flush=True)

    endpoint = _start_emulator(options.aws_port, cleanup)
    use_emulator(endpoint, REGION)
    provisioned = _provision(endpoint)
    payments = _start_payments(options, cleanup)
    config = _configure_app(provisioned, payments)
    _seed_catalogue(provisioned)
    server, thread = _start_api(options.api_port, provisioned, config, cleanup)

    api_url = f"http://{HOST}:{server.server.server_address[1]}"
    lock.describe(api_url)
    if payments.server is not None:
        payments.server.webhook_url = f"{api_url}/webhooks/stripe"
    else:
        print(_real_stripe_note(api_url, options), file=sys.stderr, flush=True)
    _start_schedules(options.schedule_seconds, cleanup)
    _start_events(options.event_seconds, provisioned, cleanup)
    env = _env_json(api_url, provisioned, payments) | {
        "schedule_seconds": options.schedule_seconds,
        "event_seconds": options.event_seconds,
    }
    env_path = state.write_env(options.directory, env)
    cleanup.callback(env_path.unlink, missing_ok=True)  # the emulator keeps nothing: neither should env.json
    print(banner(env, env_path, default_dir=options.default_directory), flush=True)

    while thread.is_alive():
        thread.join(timeout=1.0)  # SIGINT/SIGTERM raise Stopped here
    raise StackError("the API server stopped unexpectedly (see the error above).")


def _start_schedules(interval: float, cleanup: ExitStack) -> None:
    """Run the app's @app.schedule functions every ``interval`` seconds, as EventBridge would every minute."""
    if interval <= 0:
        return
    from app import app
    from devstack.scheduler import Scheduler

    scheduler = Scheduler(app, interval, REGION)
    scheduler.start()
    cleanup.callback(scheduler.stop)


def _start_events(interval: float, provisioned: Provisioned, cleanup: ExitStack) -> None:
    """Every ``interval`` seconds, what Lambda's event source mappings and SNS subscribers would do.

    The orders and products streams go to the app's stream handlers, the fulfilment-updates
    queue to its consumer (a failed message comes back after the queue's visibility timeout
    and, past its maxReceiveCount, the emulator moves it to fulfilment-updates-dlq), and what
    was published to the staff and customer topics is printed. fulfilment-requests is left
    alone: it is the warehouse's queue.
    """
    if interval <= 0:
        return
    import boto3

    from app import app
    from chalicelib.entrypoints.http import wiring
    from devstack.events import EventLoop, QueuePump, StreamPump, TopicTap, call
    from devstack.notices import describe

    def client(service: str) -> Any:
        return boto3.client(service, endpoint_url=provisioned.endpoint, region_name=REGION)

    sqs, sns, dynamodb, streams = client("sqs"), client("sns"), client("dynamodb"), client("dynamodbstreams")
    handlers = app.handler_map

    def stream_of(logical: str) -> str:
        return dynamodb.describe_table(TableName=provisioned.tables[logical])["Table"]["LatestStreamArn"]

    def report(line: str) -> None:
        print(line, flush=True)

    orders = StreamPump(streams, stream_of("OrdersTable"), call(handlers["orders_stream"]), REGION)
    products = StreamPump(streams, stream_of("ProductsTable"), call(handlers["products_stream"]), REGION)
    updates = QueuePump(sqs, provisioned.queues["fulfilment-updates"], _consumer(handlers, report), REGION)
    uploads = QueuePump(sqs, provisioned.queues["image-uploads"], call(handlers["image_uploads"]), REGION)
    taps = {audience: TopicTap(sqs, sns, provisioned.topics[audience], f"devstack-{audience}-tap")
            for audience in ("staff", "customer")}  # fmt: skip
    dead_letters = [DeadLetterWatch(sqs, provisioned.queues[name], name)
                    for name in ("fulfilment-updates-dlq", "image-uploads-dlq")]  # fmt: skip
    wiring.dispatcher()  # its AWS clients made here, on the main thread, before the loop uses them

    def show_notifications() -> None:
        for audience, tap in taps.items():
            for published in tap.drain():
                report(describe(audience, published))

    def watch_dead_letters() -> None:
        for watch in dead_letters:
            line = watch.check()
            if line:
                report(line)

    steps = [orders.pump, products.pump, updates.pump, uploads.pump, show_notifications, watch_dead_letters]
    loop = EventLoop(steps, interval)
    loop.start()
    cleanup.callback(loop.stop)
    _start_import_worker(interval, provisioned, cleanup, report)
    _start_export_worker(interval, provisioned, cleanup, report)


def _start_export_worker(interval: float, provisioned: Provisioned, cleanup: ExitStack, report) -> None:
    """The export worker on a thread of its own (a large export takes a while), one message at a time."""
    from chalicelib.entrypoints.http import wiring

    _start_worker("export-jobs", "export_jobs", wiring.export_worker, interval, provisioned, cleanup, report)


def _start_import_worker(interval: float, provisioned: Provisioned, cleanup: ExitStack, report) -> None:
    """The import worker on its own thread (a chunk of applying may take a minute: the other event sources go on),
    one message at a time as Lambda's batch size 1; and a word when one is dead-lettered."""
    from chalicelib.entrypoints.http import wiring

    _start_worker("import-uploads", "import_uploads", wiring.import_worker, interval, provisioned, cleanup, report)


def _start_worker(queue: str, handler: str, make: Callable[[], Any], interval: float, provisioned: Provisioned,
                  cleanup: ExitStack, report) -> None:  # fmt: skip
    """``handler`` consuming ``queue`` (batch size 1) on a thread of its own, with a word when one is
    dead-lettered into ``<queue>-dlq``; ``make`` builds its services (their AWS clients) here, on the main thread."""
    import boto3

    from app import app
    from devstack.events import EventLoop, QueuePump, call

    sqs = boto3.client("sqs", endpoint_url=provisioned.endpoint, region_name=REGION)
    pump = QueuePump(sqs, provisioned.queues[queue], call(app.handler_map[handler]), REGION, 1)
    dead_letters = DeadLetterWatch(sqs, provisioned.queues[f"{queue}-dlq"], f"{queue}-dlq")
    make()

    def watch_dead_letters() -> None:
        line = dead_letters.check()
        if line:
            report(line)

    loop = EventLoop([pump.pump, watch_dead_letters], interval)
    loop.start()
    cleanup.callback(loop.stop)


def _consumer(handlers: Mapping[str, Any], report: Callable[[str], None]) -> Callable[[dict[str, Any], Any], Any]:
    """The fulfilment-updates handler as Lambda calls it, saying which messages failed and what comes next."""
    from devstack.events import call

    handler, limit = call(handlers["fulfilment_updates"]), _max_receives()

    def consume(event: dict[str, Any], context: Any) -> Any:
        result = handler(event, context)
        failures = result.get("batchItemFailures") if isinstance(result, dict) else None
        failed = {str(item.get("itemIdentifier")) for item in failures or ()}
        for record in event["Records"]:
            if record["messageId"] in failed:
                receives = int(record["attributes"].get("ApproximateReceiveCount", 1))
                then = (
                    f"retried in {QUEUE_VISIBILITY_SECONDS} s"
                    if receives < limit
                    else f"in {QUEUE_VISIBILITY_SECONDS} s it moves to fulfilment-updates-dlq"
                )
                report(
                    f"[fulfilment-updates] message {record['messageId']} failed (receive {receives} of {limit}); {then}"
                )
        return result

    return consume


class DeadLetterWatch:
    """Says when a dead-letter queue gets a message (the emulator moves it there on a receive past the limit)."""

    def __init__(self, sqs: Any, url: str, name: str) -> None:
        self._sqs, self._url, self._name, self._seen = sqs, url, name, 0

    def check(self) -> str | None:
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self._url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        count = sum(int(v) for v in attributes.values())
        new, self._seen = count - self._seen, count
        if new <= 0:
            return None
        return f"[{self._name}] {new} message{'s' * (new > 1)} dead-lettered ({count} waiting there)"


def _max_receives(logical: str = "FulfilmentUpdatesQueue") -> int:
    from devstack import resources

    return resources.max_receives(logical)


def _already_running(lock: state.RunLock, options: Options) -> str:
    holder = lock.holder()
    env = state.read_env(options.directory) or {}
    url = holder.api_url or env.get("api_url") or f"http://{HOST}:{options.api_port}"
    pid = str(holder.pid) if holder.pid else "unknown"
    kill = f" (or `kill {holder.pid}`)" if holder.pid else ""
    return (
        f"the local stack is already running (pid {pid}) at {url}; "
        f"stop it with Ctrl-C in its terminal{kill} before starting another."
    )


def _check_free(port: int, what: str, variable: str) -> None:
    """Fail clearly now rather than obscurely later when something else listens on the port."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do: TIME_WAIT is no obstacle
        try:
            probe.bind((HOST, port))
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
            raise StackError(_port_taken(port, what, variable)) from None


def _port_taken(port: int, what: str, variable: str) -> str:
    return (
        f"port {port} on {HOST}, wanted for {what}, is already in use by another program "
        f"(another local stack with a different DEVSTACK_DIR?); stop it or pick another port, "
        f"e.g. `{variable}={port + 1} make run`."
    )


def _start_emulator(port: int, cleanup: ExitStack) -> str:
    from devstack.emulator import Emulator

    emulator = Emulator(port=port)
    endpoint = emulator.start()
    cleanup.callback(emulator.stop)
    return endpoint


def _provision(endpoint: str) -> Provisioned:
    """Tables, queues, topics and the user pool from infra/, and the demo accounts."""
    import boto3

    from devstack import resources

    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION)
    cognito = boto3.client("cognito-idp", endpoint_url=endpoint, region_name=REGION)
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=REGION)
    sns = boto3.client("sns", endpoint_url=endpoint, region_name=REGION)
    tables = resources.create_tables(dynamodb)
    queues, topics = resources.create_messaging(sqs, sns, visibility_timeout=QUEUE_VISIBILITY_SECONDS)
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
    origin = os.environ.get("CORS_ALLOW_ORIGIN", "*")  # dev's origin is *
    buckets = resources.create_buckets(s3, origin=origin, queue_arns=resources.queue_arns(sqs, queues))
    pool_id, client_id = resources.create_user_pool(cognito)
    for email, role in DEMO_ACCOUNTS:
        resources.create_user(cognito, pool_id, email, DEMO_PASSWORD, () if role == "customer" else (role,))
    return Provisioned(endpoint, tables, pool_id, client_id, queues, topics, buckets)


def _start_payments(options: Options, cleanup: ExitStack) -> Payments:
    """The Stripe stand-in on HOST (its webhook URL is set once the API runs), unless Stripe's test mode is used."""
    if options.real_stripe:
        return Payments(options.stripe_webhook_secret or f"whsec_local_{secrets.token_hex(24)}", None, None)
    from devstack.stripe_standin import StripeStandIn, StripeStandInServer

    secret = f"whsec_local_{secrets.token_hex(24)}"
    server = StripeStandInServer(StripeStandIn(), HOST, options.stripe_port, webhook_secret=secret)
    try:
        server.start()
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        raise StackError(_port_taken(options.stripe_port, "the Stripe stand-in", "DEVSTACK_STRIPE_PORT")) from None
    cleanup.callback(server.stop)
    return Payments(secret, server.url, server)


def _real_stripe_note(api_url: str, options: Options) -> str:
    forward = f"`stripe listen --forward-to {api_url}/webhooks/stripe`"
    if options.stripe_webhook_secret:
        return f"STRIPE_API_KEY is set: payments use Stripe's test mode (no stand-in). Forward webhooks with {forward}."
    return (
        f"STRIPE_API_KEY is set: payments use Stripe's test mode (no stand-in), but STRIPE_WEBHOOK_SECRET is not: "
        f"webhooks will fail their signature check. Run {forward} and restart with the whsec_... it prints."
    )


def _configure_app(provisioned: Provisioned, payments: Payments) -> Config:
    """The app's environment, before anything imports ``chalicelib.config``; returns the Chalice config."""
    from chalice.config import Config

    config_file = state.REPO_ROOT / ".chalice" / "config.json"
    config = Config(
        chalice_stage=CHALICE_STAGE,
        config_from_disk=json.loads(config_file.read_text()),
        default_params={"project_dir": str(state.REPO_ROOT)},
    )
    for name, value in config.environment_variables.items():  # as `chalice local` does; the shell's value wins
        os.environ.setdefault(name, value)
    os.environ["ORDERS_TABLE"] = provisioned.tables["OrdersTable"]
    os.environ["PRODUCTS_TABLE"] = provisioned.tables["ProductsTable"]
    os.environ["AUDIT_TABLE"] = provisioned.tables["AuditTable"]
    os.environ["CATALOGUE_TABLE"] = provisioned.tables["CatalogueTable"]
    os.environ["JOBS_TABLE"] = provisioned.tables["JobsTable"]
    os.environ["USER_POOL_ARN"] = f"arn:aws:cognito-idp:{REGION}:000000000000:userpool/{provisioned.user_pool_id}"
    os.environ["STRIPE_WEBHOOK_SECRET"] = payments.webhook_secret
    os.environ["STAFF_TOPIC_ARN"] = provisioned.topics["staff"]
    os.environ["CUSTOMER_TOPIC_ARN"] = provisioned.topics["customer"]
    os.environ["FULFILMENT_REQUESTS_QUEUE_URL"] = provisioned.queues["fulfilment-requests"]
    os.environ["RECEIPTS_BUCKET"] = provisioned.buckets["receipts"]
    os.environ["IMAGES_BUCKET"] = provisioned.buckets["images"]
    os.environ["IMAGES_BASE_URL"] = _images_base_url(provisioned)  # the emulator serves them, as CloudFront would
    os.environ["IMPORTS_BUCKET"] = provisioned.buckets["imports"]
    os.environ["IMPORT_UPLOADS_QUEUE_URL"] = provisioned.queues["import-uploads"]
    os.environ["IMPORT_MAX_RECEIVES"] = str(_max_receives("ImportUploadsQueue"))
    os.environ["EXPORTS_BUCKET"] = provisioned.buckets["exports"]
    os.environ["EXPORT_JOBS_QUEUE_URL"] = provisioned.queues["export-jobs"]
    os.environ["EXPORT_MAX_RECEIVES"] = str(_max_receives("ExportJobsQueue"))
    os.environ.setdefault("BUSINESS_NAME", DEMO_BANK["BANK_ACCOUNT_NAME"])  # the demo shop's name; the shell's wins
    os.environ["FULFILMENT_MAX_RECEIVES"] = str(_max_receives())  # the local queue's, so the alert comes on time
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # EMF lines are for CloudWatch: noise on a console
    for name, value in DEMO_BANK.items():  # what bank-transfer instructions show; the shell's value wins
        os.environ.setdefault(name, value)
    if payments.api_base is not None:  # the stand-in; with real Stripe the shell's STRIPE_API_KEY stays
        os.environ["STRIPE_API_KEY"] = LOCAL_STRIPE_KEY
        os.environ["STRIPE_API_BASE"] = payments.api_base
    return config


def _images_base_url(provisioned: Provisioned) -> str:
    return f"{provisioned.endpoint}/{provisioned.buckets['images']}"


def _seed_catalogue(provisioned: Provisioned) -> int:
    """The demo products, with their pictures stored in the images bucket (their notifications then find them
    listed already: the image-uploads consumer changes nothing)."""
    import boto3

    from chalicelib.adapters.dynamo.catalogue_repo import CatalogueRepository
    from devstack import demo_catalogue
    from devstack.demo_images import upload_pictures

    s3 = boto3.client("s3", endpoint_url=provisioned.endpoint, region_name=REGION)
    bucket, base_url = provisioned.buckets["images"], _images_base_url(provisioned)

    def pictures(product: Any, count: int) -> list[str]:
        return upload_pictures(s3, bucket, base_url, product.sku, product.category, count)

    return demo_catalogue.seed(CatalogueRepository(), pictures)


def _start_api(
    port: int, provisioned: Provisioned, config: Config, cleanup: ExitStack
) -> tuple[LocalDevServer, threading.Thread]:
    """The API on HOST:port, served from a thread; returns the server and its thread."""
    from app import app
    from devstack.gateway import CognitoVerifier, dev_server

    pool = provisioned.user_pool_id
    jwks_url = f"{provisioned.endpoint}/{pool}/.well-known/jwks.json"
    verifier = CognitoVerifier(REGION, pool, provisioned.client_id, jwks_url)
    try:
        server = dev_server(app, config, HOST, port, verifier, access_log=_debug())
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        raise StackError(_port_taken(port, "the API", "PORT")) from None
    cleanup.callback(server.server.server_close)
    # The inner server's serve_forever: LocalDevServer's own prints a line the banner already says.
    thread = threading.Thread(target=server.server.serve_forever, name="api", daemon=True)
    thread.start()
    cleanup.callback(server.shutdown)
    return server, thread


def _debug() -> bool:
    """LOG_LEVEL=DEBUG (the shell's, else the dev stage's): the API also prints one access-log line per request."""
    return os.environ.get("LOG_LEVEL", "").strip().upper() == "DEBUG"


def _env_json(api_url: str, provisioned: Provisioned, payments: Payments) -> dict[str, Any]:
    """What scripts need, with the keys ARCHITECTURE.md lists."""
    return {
        "api_url": api_url,
        "aws_endpoint_url": provisioned.endpoint,
        "region": REGION,
        "user_pool_id": provisioned.user_pool_id,
        "user_pool_client_id": provisioned.client_id,
        "stripe_webhook_secret": payments.webhook_secret,
        "stripe_api_base": payments.api_base,  # null: Stripe's test mode
        "queues": dict(provisioned.queues),  # fulfilment-requests(-dlq), fulfilment-updates(-dlq) -> URL
        "topics": dict(provisioned.topics),  # staff, customer -> ARN
        "buckets": dict(provisioned.buckets),  # receipts, images, imports -> bucket name
        "images_base_url": _images_base_url(provisioned),
        "tables": {logical.removesuffix("Table").lower(): name for logical, name in provisioned.tables.items()},
        "demo_accounts": [{"email": email, "password": DEMO_PASSWORD, "role": role} for email, role in DEMO_ACCOUNTS],
    }
