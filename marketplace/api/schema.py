"""OpenAPI schema generation (drf-spectacular) with unique component names."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema

NESTED_NAMES = {"InputSerializer", "OutputSerializer", "FilterSerializer"}


class AutoSchema(SpectacularAutoSchema):
    """Names a view's nested `InputSerializer` after the view (`RegisterApi` → `RegisterInput`).

    Views keep their input and output shapes nested, as in the HackSoft style
    guide; without this every one of them would be called `Input` in the schema.
    """

    def get_serializer_name(self, serializer, direction):  # type: ignore[no-untyped-def]
        cls = type(serializer)
        outer, _, inner = cls.__qualname__.rpartition(".")
        if outer and inner in NESTED_NAMES:
            return outer.rsplit(".", 1)[-1].removesuffix("Api") + inner.removesuffix("Serializer")
        return super().get_serializer_name(serializer, direction)
