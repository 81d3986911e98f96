"""Weather warnings (기상특보): the stored model, labels, periods and "which stations". No I/O here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

KST = ZoneInfo("Asia/Seoul")

# WRN words of wrn_now_data.php and their English names. The Korean words are the Hub's code
# table (W 강풍 ... K 열대야); five of them were seen in captured rows, the rest are an ASSUMPTION
# about how wrn_now prints them.
KINDS: dict[str, str] = {
    "강풍": "Strong wind",
    "호우": "Heavy rain",
    "한파": "Cold wave",
    "건조": "Dry weather",
    "폭풍해일": "Storm surge",
    "지진해일": "Tsunami",
    "풍랑": "High seas",
    "태풍": "Typhoon",
    "대설": "Heavy snow",
    "황사": "Yellow dust",
    "폭염": "Heat wave",
    "안개": "Fog",
    "열대야": "Tropical night",
}

# LVL words, lowest first: (rank, JSON name, English label, Korean badge suffix).
LEVELS: dict[str, tuple[int, str, str, str]] = {
    "예비": (0, "preliminary", "preliminary warning", " 예비특보"),
    "주의": (1, "advisory", "advisory", "주의보"),
    "경보": (2, "warning", "warning", "경보"),
    "중대경보": (3, "severe", "severe warning", "중대경보"),
}

# 예비 rows carry a part of the day in TM_EF (the wrn_now_data.php help=1 legend): HHMI -> name.
PERIODS: dict[str, tuple[str, str]] = {
    "0259": ("한밤", "late night"),
    "0559": ("새벽", "before dawn"),
    "0859": ("아침", "morning"),
    "1159": ("늦은오전", "late morning"),
    "1459": ("이른오후", "early afternoon"),
    "1759": ("늦은오후", "late afternoon"),
    "2059": ("저녁", "evening"),
    "2359": ("늦은밤", "late evening"),
    "1158": ("오전", "morning"),
    "1758": ("오후", "afternoon"),
    "1458": ("낮", "daytime"),
    "2358": ("밤", "night"),
}

WarningsStatus = Literal["ok", "unknown"]


class WeatherWarning(BaseModel):
    """One warning in effect on one region, as stored and served."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    kind: str = Field(description="특보종류, e.g. 폭염")
    level: str = Field(description="특보수준: 예비, 주의, 경보 or 중대경보")
    region_id: str = Field(description="특보구역 code (REG_ID)")
    region_name: str
    parent_region_id: str | None = None
    parent_region_name: str | None = None
    issued_at: AwareDatetime = Field(description="발표시각 (TM_FC)")
    effective_at: AwareDatetime | None = Field(
        default=None, description="발효시각 (TM_EF); null for a preliminary warning's period"
    )
    period_code: str | None = Field(default=None, description="TM_EF of a preliminary warning, as sent")
    command: str = Field(description="특보명령: 발표, 변경, 대치, 연장 ...")
    planned_end: str | None = Field(default=None, description="예제예고 시점 (ED_TM), free text")

    @property
    def rank(self) -> int:
        return LEVELS[self.level][0] if self.level in LEVELS else -1

    @property
    def preliminary(self) -> bool:
        return self.level == "예비"

    def kind_label(self, lang: str) -> str:
        return KINDS.get(self.kind, self.kind) if lang == "en" else self.kind

    def label(self, lang: str) -> str:
        """The badge: 폭염경보, 호우주의보, 태풍중대경보, 강풍 예비특보 (or their English)."""
        level = LEVELS.get(self.level)
        if lang == "en":
            return f"{self.kind_label('en')} {level[2] if level else self.level}"
        return f"{self.kind}{level[3] if level else self.level}"

    def period(self, lang: str) -> str | None:
        """When a preliminary warning is expected: 21일 오후 / the 21st, afternoon."""
        if self.period_code is None:
            return None
        local = datetime.strptime(self.period_code, "%Y%m%d%H%M").replace(tzinfo=KST)
        part = PERIODS.get(self.period_code[8:])
        if lang == "en":
            when = part[1] if part else local.strftime("%H:%M")
            return f"{when} of {local:%b} {local.day}"
        return f"{local.day}일 {part[0] if part else local.strftime('%H시 %M분')}"

    def label_with_period(self, lang: str) -> str:
        """The badge as text: "폭염경보", or "강풍 예비특보 29일 오후" with a preliminary's period."""
        period = self.period(lang) if self.preliminary else None
        return f"{self.label(lang)} {period}" if period else self.label(lang)

    def sentence(self, lang: str) -> str:
        """The warning in full, for screen readers."""
        issued = self.issued_at.astimezone(KST)
        if lang == "en":
            text = (
                f"{self.label('en')} for {self.region_name}, issued {issued:%b} {issued.day} {issued:%H:%M}"
            )
            if self.preliminary and self.period("en"):
                text += f", expected {self.period('en')}"
            return text
        text = (
            f"{self.region_name} {self.label('ko')}, {issued.month}월 {issued.day}일 {issued:%H시 %M분} 발표"
        )
        if self.preliminary and self.period("ko"):
            text += f", {self.period('ko')} 예상"
        return text


class WarningEntry(WeatherWarning):
    """A warning in the JSON API, with its labels and the stations it covers."""

    kind_en: str
    level_en: str = Field(description="preliminary, advisory, warning or severe")
    badge: str = Field(description="as the widget shows it: 폭염경보, 강풍 예비특보")
    badge_en: str
    period_label: str | None = Field(default=None, description="a preliminary warning's period: 21일 오후")
    period_label_en: str | None = None
    station_ids: list[int] = Field(default_factory=list, description="configured stations it covers")


def entry(warning: WeatherWarning, station_ids: Sequence[int]) -> WarningEntry:
    level = LEVELS.get(warning.level)
    return WarningEntry(
        **warning.model_dump(),
        kind_en=warning.kind_label("en"),
        level_en=level[1] if level else warning.level,
        badge=warning.label("ko"),
        badge_en=warning.label("en"),
        period_label=warning.period("ko"),
        period_label_en=warning.period("en"),
        station_ids=list(station_ids),
    )


def ordered(warnings: Iterable[WeatherWarning]) -> tuple[WeatherWarning, ...]:
    """Highest level first, then the newest issue, then by kind for a stable order."""
    return tuple(sorted(warnings, key=lambda w: (-w.rank, -w.issued_at.timestamp(), w.kind, w.region_id)))


def covering(warnings: Iterable[WeatherWarning], chain: Sequence[str]) -> tuple[WeatherWarning, ...]:
    """The warnings on a station's region or any region above it."""
    regions = set(chain)
    return ordered(w for w in warnings if w.region_id in regions)


def status_at(ok_at: float | None, now: datetime, max_age_s: float) -> WarningsStatus:
    """'ok' while the feed answered within ``max_age_s``; 'unknown' otherwise (nothing is shown)."""
    if ok_at is None or now.timestamp() - ok_at > max_age_s:
        return "unknown"
    return "ok"


class WarningsDocument(BaseModel):
    """The body of GET /v1/warnings."""

    generated_at: AwareDatetime
    warnings_status: WarningsStatus = Field(
        description="'unknown' when the feed has not answered within TICKER_WARNINGS_MAX_AGE_S: "
        "then no warning is listed, whatever was in effect before"
    )
    checked_at: AwareDatetime | None = Field(description="when the feed last answered successfully")
    attribution: str = "기상청 제공"
    simulated: bool = Field(default=False, description="true when the service runs on simulated data")
    version: int
    warnings: list[WarningEntry]
