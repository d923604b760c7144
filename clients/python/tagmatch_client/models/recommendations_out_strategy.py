from enum import StrEnum


class RecommendationsOutStrategy(StrEnum):
    COLD_START = "cold_start"
    PERSONAL = "personal"
    POPULAR = "popular"

    def __str__(self) -> str:
        return str(self.value)
