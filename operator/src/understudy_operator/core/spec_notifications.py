"""Parsing ``spec.notifications``: webhooks named by a Secret key, never by a literal URL."""

from __future__ import annotations

from understudy_operator.core.notifications import Format, Notification, NotifyOn
from understudy_operator.core.spec_reader import SpecError, SpecObject

MAX_NOTIFICATIONS = 10


def parse_notifications(items: list[SpecObject] | None) -> tuple[Notification, ...]:
    out: list[Notification] = []
    for item in items or []:
        url_from = item.obj("urlFrom", required=True)
        ref = url_from.obj("secretKeyRef", required=True)
        on = item.get("events", False)
        if on is not None and (not isinstance(on, list) or not on):
            raise SpecError(f"{item.path}.events: must be a non-empty list")
        for i, event in enumerate(on or []):
            if event not in set(NotifyOn):
                allowed = ", ".join(NotifyOn)
                raise SpecError(f"{item.path}.events[{i}]: {event!r} must be one of {allowed}")
        notification = Notification(
            name=item.name("name"),
            secret_name=ref.text("name", required=True),
            secret_key=ref.text("key", required=True),
            format=Format(item.enum("format", list(Format), default=Format.JSON)),
            on=frozenset(NotifyOn(e) for e in on) if on else frozenset(NotifyOn),
            timeout_seconds=item.duration("timeout", default=5.0),
        )
        for part in (ref, url_from, item):
            part.reject_unknown()
        out.append(notification)
    names = [n.name for n in out]
    if len(set(names)) != len(names):
        raise SpecError("spec.notifications: names must be unique")
    if len(out) > MAX_NOTIFICATIONS:
        raise SpecError(f"spec.notifications: at most {MAX_NOTIFICATIONS} webhooks")
    return tuple(out)
