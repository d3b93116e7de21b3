"""What each role can do: the commands in its /help and its Telegram command menu (pure).

A resident sees only resident commands. Someone holding a role (config.yaml or granted by an
invite link, read fresh every time) sees that role's commands too; nobody else ever learns that
those commands exist, since to them they answer like unknown commands (bot/<feature>/*.py).
The texts are in flows/<lang>/ui.yaml under `help.` and `commands.`.
"""

from __future__ import annotations

from bot.config import Config
from bot.content import Content
from bot.roles.lookup import Roles

# Everyone's menu, in this order; descriptions come from flows/<lang>/ui.yaml `commands.`.
RESIDENT_COMMANDS = (
    "start",
    "faq",
    "interest",
    "mine",
    "meetings",
    "help",
    "language",
    "privacy",
    "forget",
    "cancel",
)
# What each role adds, in the order its holder most often needs it. Only commands that exist
# (bot/<feature>/*.py CommandHandler) and that check that role on the server.
ROLE_COMMANDS: dict[str, tuple[str, ...]] = {
    "coordinator": ("digest", "invitation", "poster"),
    "office": ("digest", "announce", "poster"),
    "admin": ("digest", "invite", "roles", "poster"),
}


def held_roles(roles: Roles) -> tuple[str, ...]:
    """The role names a person holds, in a fixed order: coordinator, office, admin."""
    held = (
        ("coordinator", roles.is_coordinator),
        ("office", roles.is_office),
        ("admin", roles.admin),
    )
    return tuple(name for name, has in held if has)


def role_commands(roles: Roles) -> tuple[str, ...]:
    """The commands a person's roles add, each once."""
    out: list[str] = []
    for role in held_roles(roles):
        out += [c for c in ROLE_COMMANDS[role] if c not in out]
    return tuple(out)


def menu_commands(roles: Roles) -> tuple[str, ...]:
    """A person's command menu: "start", then their roles' commands, then everyone's."""
    return RESIDENT_COMMANDS[:1] + role_commands(roles) + RESIDENT_COMMANDS[1:]


def help_sections(roles: Roles) -> tuple[str, ...]:
    """The `help.` keys of a person's /help: one section per role held, then everyone's text
    (which ends with the emergency number)."""
    return (*(f"help.{role}" for role in held_roles(roles)), "help.text")


def scope_names(config: Config, roles: Roles, role: str) -> str:
    """ "Lyngen, Storfjord" for a coordinator, the regions' names for an office."""
    if role == "coordinator":
        return ", ".join(sorted(roles.municipalities))
    if role == "office":
        names = [(r.name if (r := config.region(i)) else i) for i in sorted(roles.regions)]
        return ", ".join(names)
    return ""


def help_text(content: Content, config: Config, lang: str, roles: Roles, emergency: str) -> str:
    """The whole /help for this person, a blank line between the sections."""
    return "\n\n".join(
        content.text(
            lang, key, emergency=emergency, scope=scope_names(config, roles, key.split(".")[1])
        ).rstrip("\n")
        for key in help_sections(roles)
    )
