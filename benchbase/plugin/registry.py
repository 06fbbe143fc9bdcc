"""Name → object registries owned by the core: duplicates and typos are caught here."""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, Protocol, TypeVar

from benchbase.errors import BenchbaseError, UnknownNameError


class Named(Protocol):
    name: str


T = TypeVar("T", bound=Named)


class Registry(Generic[T]):
    """Objects of one kind (``"dataset"``, ``"backbone"``…) keyed by their unique name."""

    def __init__(self, kind: str, type_: type, plural: str | None = None) -> None:
        self.kind = kind
        self.plural = plural or f"{kind}s"
        self.type = type_
        self._items: dict[str, T] = {}
        self._origin: dict[str, str] = {}
        self.fallback: Callable[[str], T | None] | None = None
        #: Extra text for unknown-name errors (e.g. plugins that failed to load).
        self.unknown_hint: Callable[[], str] = str
        #: Loads deferred plugins serving ``name`` (every one of this kind for None); True
        #: when it loaded any (see :mod:`benchbase.plugin.lazy`).
        self.on_demand: Callable[[str | None], bool] | None = None

    def _demand(self, name: str | None) -> bool:
        return self.on_demand is not None and self.on_demand(name)

    def loaded(self, name: str) -> bool:
        """Whether ``name`` is registered already, without loading deferred plugins."""
        return name in self._items

    def register(self, obj: T, plugin: str) -> None:
        """Add ``obj`` on behalf of ``plugin``; a second object with the same name is an error."""
        expected = f"benchbase.{self.type.__name__}"
        if isinstance(obj, (list, tuple, set)):
            raise BenchbaseError(
                f"plugin {plugin!r} passed a {type(obj).__name__} of {len(obj)} to register() "
                f"for {self.plural}; call register() once per object: "
                f"`for x in items: register(x)`"
            )
        if not isinstance(obj, self.type):
            raise BenchbaseError(
                f"plugin {plugin!r} registered a {type(obj).__name__} ({obj!r:.80}) as a "
                f"{self.kind}; expected a {expected}(...)"
            )
        if obj.name in self._items:
            raise BenchbaseError(
                f"{self.kind} {obj.name!r} is registered twice: by plugin "
                f"{self._origin[obj.name]!r} and by plugin {plugin!r}; rename one (a prefix "
                "such as 'mylab/' keeps a plugin's names apart), or uninstall or block one "
                "of them (BENCHBASE_BLOCK_PLUGINS=name)"
            )
        self._items[obj.name] = obj
        self._origin[obj.name] = plugin

    def get(self, name: str) -> T:
        """The object called ``name``, or an error suggesting the closest registered names."""
        if name in self._items:
            return self._items[name]
        if self._demand(name) and name in self._items:
            return self._items[name]
        if self.fallback is not None:
            found = self.fallback(name)
            if found is not None:
                self._items[name] = found
                self._origin[name] = "resolved"
                return found
        close = difflib.get_close_matches(name, list(self._items), n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownNameError(
            f"unknown {self.kind} {name!r}{hint} (`benchbase list {self.plural}` shows them "
            f"all){self.unknown_hint()}"
        )

    def origin(self, name: str) -> str:
        return self._origin[name]

    def names_from(self, plugin: str) -> list[str]:
        """Names ``plugin`` registered so far (deferred plugins are not loaded for this)."""
        return [n for n, p in self._origin.items() if p == plugin]

    def names(self, pattern: str | None = None) -> list[str]:
        self._demand(None)
        names = sorted(self._items)
        return [n for n in names if fnmatch.fnmatch(n, pattern)] if pattern else names

    def ordered(self, first: Iterable[str]) -> list[str]:
        """Every name: those of ``first`` that are registered, in that order (the built-ins),
        then the others by name (the plugins')."""
        registered = self.names()
        known = set(registered)
        leading = [n for n in dict.fromkeys(first) if n in known]
        return leading + [n for n in registered if n not in leading]

    def __contains__(self, name: object) -> bool:
        if name not in self._items and isinstance(name, str):
            self._demand(name)
        return name in self._items

    def __iter__(self) -> Iterator[T]:
        self._demand(None)
        return iter(self._items[n] for n in sorted(self._items))

    def __len__(self) -> int:
        self._demand(None)
        return len(self._items)
