"""A simulated family is one module declaring ``FAMILY`` and listed once in ``FAMILIES``:
nothing else names its actions or routes, so a module left out of the list, an action
declared twice or a route under an undeclared action is caught here."""

from __future__ import annotations

import importlib
import pkgutil

import prefect_haoee.simulator.families as families_pkg
from prefect_haoee.simulator.families import FAMILIES, FAMILY_ACTIONS, SimFamily
from prefect_haoee.simulator.families.faults import POLL_LIKE, SUBMIT_LIKE, SYNC


def _modules_declaring_a_family() -> dict[str, SimFamily]:
    found: dict[str, SimFamily] = {}
    for info in pkgutil.iter_modules(families_pkg.__path__):
        module = importlib.import_module(f"{families_pkg.__name__}.{info.name}")
        family = getattr(module, "FAMILY", None)
        if isinstance(family, SimFamily):
            found[info.name] = family
    return found


def test_every_family_module_is_registered_once() -> None:
    declared = _modules_declaring_a_family()
    assert len(declared) == 5, sorted(declared)
    assert len(FAMILIES) == len(declared)
    assert {id(f) for f in FAMILIES} == {id(f) for f in declared.values()}
    assert len({f.name for f in FAMILIES}) == len(FAMILIES)


def test_actions_are_unique_and_each_has_a_visual_analog() -> None:
    names = [a for f in FAMILIES for a in f.actions]
    assert len(names) == len(set(names)), names
    assert set(FAMILY_ACTIONS) == set(names)
    assert set(FAMILY_ACTIONS.values()) <= {SYNC, SUBMIT_LIKE, POLL_LIKE}
    assert FAMILY_ACTIONS["images.generations"] == SYNC
    assert FAMILY_ACTIONS["sora.create"] == SUBMIT_LIKE
    assert FAMILY_ACTIONS["suno.fetch"] == POLL_LIKE


def test_routes_are_distinct_and_name_declared_actions() -> None:
    seen: set[tuple[str, str]] = set()
    for family in FAMILIES:
        assert family.routes, family.name
        for route in family.routes:
            key = (route.method, route.path)
            assert key not in seen, key
            seen.add(key)
            if isinstance(route.action, str):
                assert route.action in family.actions, (family.name, route.action)
    assert ("POST", "/v1/videos") in seen
    assert ("GET", "/suno/fetch/{task_id}") in seen
