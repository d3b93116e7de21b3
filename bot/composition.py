"""The composition root: build_application() is the one place every handler is added, in order."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Mapping

from telegram import BotCommand
from telegram.ext import Application, ApplicationBuilder, ContextTypes
from telegram.request import BaseRequest

from bot.answers import faq_menu
from bot.answers import handlers as questions
from bot.answers.crisis import CrisisDetector
from bot.answers.faq_index import FaqIndex
from bot.answers.text_model import Featurizer, LinearModel
from bot.botapi.reply_bot import ReplyBot
from bot.botapi.transport import JsonRequest, PollingRequest
from bot.chat import button_router as buttons
from bot.chat import command_menus, errors
from bot.chat.context import BotContext, BotData
from bot.chat.text_routes import collect_text_routes
from bot.config import Config
from bot.content import Content, load_content
from bot.digest import handlers as digest
from bot.general import cancel_unknown as misc
from bot.general import group_chats as groups
from bot.general import help as role_help
from bot.general import language, privacy, start
from bot.interest import handlers as interest
from bot.invitations import handlers as invitation
from bot.meetings import announce_handlers as announce
from bot.meetings import handlers as meetings
from bot.ops.hooks import CountingUpdateProcessor
from bot.poster import handlers as poster
from bot.roles import handlers as admin
from bot.security import log_scrub as logsafe
from bot.security.file_modes import make_private_folder
from bot.security.pseudonyms import ButtonSigner, ChatCipher, Pseudonymizer, load_or_create_key
from bot.services import Services
from bot.storage import Storage

log = logging.getLogger(__name__)

# Shown in Telegram's command menu, in this order; descriptions come from flows/<lang>/ui.yaml.
# Role holders get their role's commands too, in their own chat (bot/chat/command_menus.py).
MENU_COMMANDS = role_help.RESIDENT_COMMANDS
# Telegram language codes that get the bokmål menu; everyone else gets English.
NORWEGIAN_MENU_CODES = ("nb", "nn", "no")
# A token is required by the library even when the fake API answers; it is never sent anywhere.
OFFLINE_TOKEN = "1000000000:offline-terminal-chat"
DATABASE_NAME = "selvhjelp.sqlite3"


def create_safety(
    content: Content,
    models: Mapping[str, LinearModel] | None = None,
    featurizer: Featurizer | None = None,
) -> CrisisDetector:
    """The crisis detector: the lemmas and patterns of flows/safety.yaml, then the trained
    model (flows/models/crisis.npz; `models` replaces the content's, {} for none). `featurizer`:
    the FAQ index's, so both read words with one set of maps and one word cache."""
    models = content.models if models is None else models
    return CrisisDetector.build(
        content.safety,
        content.crisis_model,
        models.get("crisis"),
        featurizer or Featurizer.from_lexicon(content.lexicon),
    )


def create_readers(
    content: Content,
    models: Mapping[str, LinearModel] | None = None,
    featurizer: Featurizer | None = None,
) -> tuple[FaqIndex, CrisisDetector]:
    """The FAQ index and the crisis detector, sharing one featurizer (`featurizer`, or the
    index's own); the index reads a question run together into one word with the detector's
    splitter."""
    if models is None and featurizer is None:
        faq = FaqIndex(content)
    else:
        faq = FaqIndex(
            content, models=None if models is None else dict(models), featurizer=featurizer
        )
    crisis = create_safety(content, models=models, featurizer=faq.featurizer)
    faq.unjoin = crisis.unjoined
    return faq, crisis


async def create_services(
    config: Config,
    *,
    content: Content | None = None,
    clock: Callable[[], float] = time.time,
    database: str | None = None,
) -> Services:
    """Load content, build the indexes and open the database (running migrations)."""
    content = content or load_content()
    for problem in content.model_problems:
        # Said once: the bot answers on, with its patterns and TF-IDF in place of the model.
        log.warning("trained model not used: %s (answering without it)", problem)
    # The key first: a refused key (SecretKeyError) stops start-up before anything is opened.
    key = load_or_create_key(config.data_dir, config.secret_key, config.key_file)
    make_private_folder(config.data_dir)  # owner-only, like the files Storage.open makes
    storage = await Storage.open(
        database or config.data_dir / DATABASE_NAME, clock, timezone=config.timezone
    )
    faq, crisis = create_readers(content)
    return Services(
        config=config,
        content=content,
        faq=faq,
        crisis=crisis,
        storage=storage,
        pseudonymizer=Pseudonymizer(key),
        cipher=ChatCipher(key),
        signer=ButtonSigner(key),
        clock=clock,
    )


async def on_ready(app: Application) -> None:
    """Once everything long-lived exists: publish the commands and freeze the heap."""
    await register_commands(app)
    # Content, the matcher's indexes and the library's objects live as long as the process.
    # Moving them out of the collector's generations spares every later collection from
    # walking them again (bench/e2e.py: garbage collection was ~4% of an update's time).
    gc.freeze()


async def register_commands(app: Application) -> None:
    """Publish the command menu in bokmål (the default) and English."""
    services: Services = app.bot_data.services
    content = services.content

    def menu(lang: str) -> list[BotCommand]:
        return [BotCommand(c, content.text(lang, f"commands.{c}")) for c in MENU_COMMANDS]

    await app.bot.set_my_commands(menu("nb"))
    await app.bot.set_my_commands(menu("en"), language_code="en")
    for code in NORWEGIAN_MENU_CODES:
        await app.bot.set_my_commands(menu("nb"), language_code=code)
    await command_menus.publish_all(app.bot, services)  # best effort, never raises


TELEGRAM_API_URL = "https://api.telegram.org/bot"  # python-telegram-bot's defaults
TELEGRAM_FILE_URL = "https://api.telegram.org/file/bot"


def create_bot(
    token: str,
    *,
    base_url: str | None = None,
    base_file_url: str | None = None,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
) -> ReplyBot:
    """The Bot API client: calls go out as JSON bodies (bot/botapi/transport.py) unless another
    request
    is given (tests: the in-process fake); pool sizes are the library's defaults."""
    return ReplyBot(
        token,
        base_url=base_url or TELEGRAM_API_URL,
        base_file_url=base_file_url or TELEGRAM_FILE_URL,
        request=request or JsonRequest(connection_pool_size=256),
        get_updates_request=get_updates_request or PollingRequest(connection_pool_size=1),
    )


def build_application(
    services: Services,
    *,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    with_updater: bool = True,
) -> Application:
    """The bot: every handler, in the order that decides precedence."""
    # Privacy guard (bot/security/log_scrub.py): library records below INFO never reach a handler,
    # and
    # those above keep no arguments (updates, SQL parameters, URLs) and no exception text,
    # whatever the root level and whoever adds a handler.
    logsafe.install()
    config = services.config
    replybot = create_bot(
        config.token or OFFLINE_TOKEN,
        base_url=config.api_base_url,
        base_file_url=config.file_base_url,
        request=request,
        get_updates_request=get_updates_request,
    )
    builder = (
        ApplicationBuilder()
        .bot(replybot)
        .context_types(ContextTypes(context=BotContext, bot_data=BotData))
        .post_init(on_ready)
        # The library's default (one update at a time), counting and timing each update for
        # the health endpoint's metrics (bot/ops/hooks.py).
        .concurrent_updates(CountingUpdateProcessor())
    )
    if not with_updater:
        builder = builder.updater(None)
    app = builder.build()
    app.bot_data.services = services
    # Typed input goes to the flow it belongs to (bot.chat.text_routes): each feature exposes
    # its routes, and this order is the one place that decides between them.
    app.bot_data.text_routes = collect_text_routes(
        invitation.TEXT_ROUTES, announce.TEXT_ROUTES, interest.TEXT_ROUTES
    )
    app.bot_data.start_payloads = admin.START_PAYLOADS

    # 0. Free text in a private chat, the commonest update, is looked at first. Its filter
    #    (private, text, not a command) shares no update with any handler below (those take
    #    group chats, commands, button presses or non-text), so the order among them is
    #    unchanged; a question just no longer waits for ~27 handlers to decline it.
    app.add_handler(questions.FREE_TEXT)
    # 1. Group chats first: nothing personal is discussed there, whatever the command.
    app.add_handlers(groups.HANDLERS)
    # 2. Private-chat commands, then the catch-all for unknown commands (misc.HANDLERS ends
    #    with it, so it must stay last among commands).
    modules = (
        start,
        admin,
        faq_menu,
        language,
        privacy,
        interest,
        invitation,
        announce,
        digest,
        poster,
        meetings,
        misc,
    )
    for module in modules:
        app.add_handlers(module.HANDLERS)
    # 3. Button presses: feature routers claim their own prefixes above (interest `i:`,
    #    coordinator invitations `ci:`, residents' answers `inv:`, admin `adm:`, office
    #    announcements `an:`, subscriptions `ms:`, announcement buttons `mt:`, posters `po:`); the
    #    generic router validates everything else and answers forged data.
    app.add_handlers(buttons.HANDLERS)
    # 4. Everything else in private chats (stickers, photos, voice): said kindly.
    app.add_handler(questions.NOT_TEXT)
    app.add_error_handler(errors.on_error)
    return app
