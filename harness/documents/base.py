"""The base of open document parts: extra keys kept, optional keys written only when given."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer

__all__ = ["Record"]


class Record(BaseModel):
    """A document part whose declared optional keys are typed but not forced into every document.

    Keys the model does not declare are kept (a later version may add keys; an older reader keeps
    them), and a declared key left unset with a ``None`` default is not written, so a document
    loaded and written again is the document that was read. Parts that were plain dicts before
    they were typed still answer ``part["key"]`` and ``part.get("key")`` (typed attributes are
    the way for new code).

    Example:
        >>> class Part(Record):
        ...     spec: str
        ...     hash: str | None = None
        >>> p = Part.model_validate({"spec": "m", "label": "x"})
        >>> p.model_dump(), p.get("label"), p.get("hash", "-")
        ({'spec': 'm', 'label': 'x'}, 'x', '-')
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    @model_serializer(mode="wrap")
    def _omit_unset(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        given = self.model_fields_set
        aliases = {(f.serialization_alias or f.alias or name): name for name, f in type(self).model_fields.items()}
        return {k: v for k, v in data.items() if v is not None or aliases.get(k, k) in given}

    def _keys(self) -> dict[str, str]:
        fields = type(self).model_fields
        out = {(f.alias or name): name for name, f in fields.items() if name in self.model_fields_set
               or getattr(self, name) is not None}
        return out | {k: k for k in self.model_extra or {}}

    def __getitem__(self, key: str) -> Any:
        """The value under a document key (KeyError when the document has no such key)."""
        keys = self._keys()
        if key not in keys:
            raise KeyError(key)
        return getattr(self, keys[key])

    def __contains__(self, key: object) -> bool:
        """Whether the document has this key."""
        return isinstance(key, str) and key in self._keys()

    def get(self, key: str, default: Any = None) -> Any:
        """The value under a document key, else ``default``."""
        keys = self._keys()
        return getattr(self, keys[key]) if key in keys else default
