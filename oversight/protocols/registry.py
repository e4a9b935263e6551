"""The one table of protocols. Pages, the CLI, batch runs, reports and the transcript viewer look a protocol up
here and never test its name. Adding a protocol: its module (with its `bot_moves`, oversight.protocols.driver),
one line below, and its tests (tests/test_driver.py drives every protocol listed here)."""

from __future__ import annotations

from oversight.protocols import assisted_qa, consultancy, debate, direct_qa, model_alone, preference
from oversight.protocols.base import Protocol, RulesError

PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (
    debate.PROTOCOL, consultancy.PROTOCOL, direct_qa.PROTOCOL, model_alone.PROTOCOL, assisted_qa.PROTOCOL,
    preference.PROTOCOL,
)}


def get_protocol(name: str) -> Protocol:
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise RulesError(f"unknown protocol {name!r}; protocols are {', '.join(PROTOCOLS)}") from None
