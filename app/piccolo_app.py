"""The one Piccolo app holding every Crossclaim table and its migrations."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from app.accounts.tables import ApiToken, StaffSession, User
from app.analytics.tables import CorrectiveAction, CorrectiveActionCase, Recovery
from app.cases.tables import Case, CaseEvent, CaseNumberCounter, Message, SavedView
from app.collaboration.tables import AccessLink, Dispute, PlanProposal
from app.evidence.tables import Evidence
from app.imports.tables import ImportValueMap
from app.mail.tables import FailingAddress, InboundMail, SentMail
from app.notify.tables import Notification, PushSubscription
from app.playbooks.tables import Playbook, SavedReply
from app.tracking.tables import Reminder, StageDeadline
from app.trade.tables import Carrier, Customer, OrderLine, Product, PurchaseOrder, Supplier

# Parents before children: the order tables are created, filled by fixtures and emptied in reverse.
TABLES = [
    User,
    StaffSession,
    ApiToken,
    Supplier,
    Carrier,
    Customer,
    Product,
    PurchaseOrder,
    OrderLine,
    Case,
    CaseEvent,
    CaseNumberCounter,
    Message,
    Evidence,
    StageDeadline,
    Reminder,
    PushSubscription,
    Notification,
    AccessLink,
    PlanProposal,
    Dispute,
    CorrectiveAction,
    CorrectiveActionCase,
    Recovery,
    SavedView,
    SentMail,
    InboundMail,
    FailingAddress,
    ImportValueMap,
    Playbook,
    SavedReply,
]

APP_CONFIG = AppConfig(
    app_name="crossclaim",
    migrations_folder_path=str(Path(__file__).resolve().parent.parent / "migrations" / "crossclaim"),
    table_classes=TABLES,
    migration_dependencies=[],
    commands=[],
)
