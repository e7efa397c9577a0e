"""The web application: create_app(settings) wires routes, templates, security and the database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Litestar, Request, Router
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.middleware.base import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.routes import HTTPRoute
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from piccolo.engine.base import Engine

from app import db
from app.accounts.roles import PUBLIC
from app.logs import access_log, configure_logging
from app.piccolo_app import TABLES
from app.routes.accounts import AccountController
from app.routes.analytics import AnalyticsApiController, DashboardController, RootCauseController
from app.routes.api import CaseApiController
from app.routes.api_intake import IntakeApiController, create_case
from app.routes.cases import CaseController
from app.routes.collaboration import COLLABORATION_ROUTES
from app.routes.evidence import EvidenceController
from app.routes.grid import GRID_ROUTES
from app.routes.hooks import HOOK_HANDLERS
from app.routes.imports import IMPORT_ROUTES
from app.routes.intake import IntakeController
from app.routes.mail import MAIL_ROUTES
from app.routes.party import PARTY_ROUTES
from app.routes.playbooks import PLAYBOOK_ROUTES
from app.routes.pwa import PwaController
from app.routes.responsibility import CaseHintController, RulesApiController
from app.routes.system import healthz, home, set_language
from app.routes.tracking import TRACKING_ROUTES
from app.routes.users import UserAdminController
from app.settings import Settings
from app.startup import configure_process, settle_heap
from app.templating import compile_all, template_environment
from app.web.auth import StaffAuthenticationMiddleware, is_automatic_options, role_guard
from app.web.errors import EXCEPTION_HANDLERS, refuse_nul_in_query
from app.web.middleware import EdgeMiddleware
from app.web.ratelimit import AccountBackoff, AttemptLimiter

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "static"

ROUTE_HANDLERS: list[Any] = [
    AccountController,
    UserAdminController,
    CaseController,
    CaseApiController,
    IntakeController,
    PwaController,
    EvidenceController,
    IntakeApiController,
    create_case,
    CaseHintController,
    RulesApiController,
    DashboardController,
    RootCauseController,
    AnalyticsApiController,
    healthz,
    home,
    set_language,
    *TRACKING_ROUTES,
    *GRID_ROUTES,
    *IMPORT_ROUTES,
    *COLLABORATION_ROUTES,
    *PLAYBOOK_ROUTES,
    *MAIL_ROUTES,
    *PARTY_ROUTES,
]


async def before_handler(request: Request[Any, Any, Any]) -> None:
    """Before every handler, once the authentication and CSRF middleware have run: the query's NUL check,
    then the route's roles (see ``role_guard`` for why this is not a Litestar guard)."""
    await refuse_nul_in_query(request)
    await role_guard(request, request.scope["route_handler"])


def check_route_roles(app: Litestar) -> None:
    """Refuse to start when a route does not say which roles reach it, or when the role check would not run
    for it: a route that is not an HTTP route (websocket and ASGI handlers have no ``before_request``), a
    layer that sets its own ``before_request`` (it would replace ``before_handler``), or a handler answered
    from Litestar's response cache (served before the hook). Tests that register a route later call it."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            raise RuntimeError(f"Route {route.path} is not an HTTP route: nothing would check its roles")
        for handler in route.route_handlers:
            if is_automatic_options(handler):
                continue
            if "roles" not in handler.opt:
                raise RuntimeError(f"Route {route.path} ({handler.handler_name}) declares no roles")
            hook = handler.resolve_before_request()
            if getattr(hook, "func", hook) is not before_handler:
                raise RuntimeError(f"Route {route.path} ({handler.handler_name}) replaces the role check")
            if handler.cache:
                # Litestar answers from its response cache before the before_request hook runs.
                raise RuntimeError(f"Route {route.path} ({handler.handler_name}) is cached ahead of the role check")


def create_app(settings: Settings | None = None, *, engine: Engine[Any] | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)
    # Tests hand in the engine whose connection pool they manage in their own event loop.
    engine = engine or db.make_engine(
        settings.database_url,
        data_dir=settings.marker_dir,
        pool_size=settings.db_pool_size,
        statement_cache=settings.db_statement_cache,
    )
    db.bind_tables(engine, TABLES)
    # Built once: a broken company rule file stops the start with its file and line.
    rules = configure_process(settings)

    async def on_startup() -> None:
        await db.start(engine)
        compile_all(environment)
        settle_heap()

    async def on_shutdown() -> None:
        await db.stop(engine)
        # A server's worker ends without the interpreter's exit handlers: the last access lines go now.
        access_log.flush()

    environment = template_environment()
    static = create_static_files_router(path="/static", directories=[STATIC], opt={"roles": PUBLIC})
    app = Litestar(
        route_handlers=[*ROUTE_HANDLERS, *(HOOK_HANDLERS if settings.test_hooks else []), static],
        before_request=before_handler,
        middleware=[DefineMiddleware(StaffAuthenticationMiddleware, exclude=["^/static/", "^/healthz"])],
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            cookie_secure=settings.secure_cookies,
            cookie_httponly=True,
            exclude=["^/api/", "^/healthz", "^/static/", "^/schema"],
        ),
        template_config=TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment)),
        openapi_config=OpenAPIConfig(
            title="Crossclaim API",
            version="1",
            path="/schema",
            render_plugins=[JsonRenderPlugin()],
            openapi_router=Router(path="/schema", route_handlers=[], opt={"roles": PUBLIC}),
        ),
        exception_handlers=EXCEPTION_HANDLERS,
        on_startup=[on_startup],
        on_shutdown=[on_shutdown],
        state=State(
            {
                "settings": settings,
                "rules": rules,
                "login_limiter": AttemptLimiter(settings.login_attempts_per_minute),
                "account_backoff": AccountBackoff(
                    settings.login_failures_per_account, settings.login_backoff_max_seconds
                ),
            }
        ),
        debug=False,
        logging_config=None,
    )
    check_route_roles(app)
    # The edge layer wraps Litestar's own handler so that 404s for unknown paths get it too.
    app.asgi_handler = EdgeMiddleware(
        app.asgi_handler, hsts=settings.secure_cookies, trusted_proxies=settings.forwarded_allow_ips
    )
    return app
