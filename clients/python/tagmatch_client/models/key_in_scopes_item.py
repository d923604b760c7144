from enum import StrEnum


class KeyInScopesItem(StrEnum):
    ADMIN = "admin"
    INGEST = "ingest"
    MARKETING = "marketing"
    SERVE = "serve"

    def __str__(self) -> str:
        return str(self.value)
