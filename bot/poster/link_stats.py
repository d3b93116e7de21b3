"""Poster-link statistics (domain): a /start with a place's poster link, counted once per person,
place and week, and never for people who hold a role (bot/digest/figures.py, rule 8).

What is stored to tell a repeat apart is only a tag: a keyed hash of (user key, place, week)
under a key that is random for each week and kept in memory only
(bot.security.pseudonyms.WeeklyTagger).
Tags are deleted when their week is over; the tally itself holds place, week and a number.
"""

from __future__ import annotations

from bot.config import Municipality
from bot.roles.lookup import roles_for
from bot.services import Services
from bot.weeks import week_index


async def count_poster_start(services: Services, user_id: int, place: Municipality) -> bool:
    """Count this person's start from `place`'s poster link this week; True if it counted.
    Coordinators, offices and admins (config.yaml or granted) testing a poster never count,
    and a person's later presses in the same week are not counted again."""
    storage, config = services.storage, services.config
    key = services.user_key(user_id)
    if (await roles_for(config, storage, key, user_id)).privileged:
        return False
    week = week_index(services.now(), config.timezone)
    tag = services.tagger.tag(week, key, place.region_id, place.name)
    return await storage.count_link_start(place.name, place.region_id, week, tag)


async def purge_old_tags(services: Services) -> int:
    """Delete the tags of weeks that are over (called from the scheduler's tick)."""
    week = week_index(services.now(), services.config.timezone)
    return await services.storage.purge_link_start_tags(week)
