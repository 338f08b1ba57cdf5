"""The sample city's settings and fixed tables: its configuration, file names, place
(CRS, time zone, FIPS codes), the NIBRS offenses it draws from and the planted-defect reasons."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from crimemap.ingestion.census import SOCIAL_SERVICES_TABLE_SET, api_columns
from crimemap.ingestion.facilities import parse_facility_mapping
from crimemap.ingestion.surveys import LIKERT5, YES_NO, parse_survey_layout

SAMPLE_CITY_CRS = "EPSG:32610"  # UTM zone 10N, metres
SAMPLE_CITY_TIMEZONE = "America/Los_Angeles"
POLICE_CSV_NAME = "seattle_spd_crime_data.csv"
AREAS_GEOJSON_NAME = "areas.geojson"
ACS_JSON_NAME = "acs_5yr_tract.json"
FACILITIES_CSV_NAME = "facilities.csv"
SURVEY_CSV_NAME = "resident_survey_2025.csv"
SERVICE_REQUESTS_CSV_NAME = "sf311_cases.csv"
TRUTH_JSON_NAME = "truth.json"
TRUTH_INCIDENTS_NAME = "truth_incidents.parquet"
TRUTH_SERVICE_REQUESTS_NAME = "truth_service_requests.parquet"

# The Census API header of the whole social-services table set.
ACS_COLUMNS: tuple[str, ...] = (
    "NAME",
    "GEO_ID",
    *api_columns(SOCIAL_SERVICES_TABLE_SET),
    "state",
    "county",
    "tract",
)

# Planted defects, in the order their counts are reported. Codes are the contract's reason codes.
DEFECT_REASONS: tuple[str, ...] = (
    "coordinates_zero",
    "coordinates_missing",
    "out_of_jurisdiction",
    "duplicate_record",
    "date_unparseable",
    "date_future",
    "offense_code_unknown",
)
DEFECT_WEIGHTS = (0.15, 0.20, 0.15, 0.15, 0.10, 0.10, 0.15)

# The survey the sample city publishes: its columns, and the layout that reads them (written out
# in config/jurisdictions/sample_city.yml, surveys.layout).
SAMPLE_CITY_SURVEY_COLUMNS: tuple[str, ...] = (
    "response_id",
    "submitted_at",
    "tract_geoid",
    "latitude",
    "longitude",
    "feel_safe_day",
    "feel_safe_night",
    "unmet_need_housing",
    "unmet_need_food",
    "unmet_need_mental_health",
    "unmet_need_substance_use",
    "unmet_need_childcare",
    "weight",
)

SAMPLE_CITY_SURVEY_LAYOUT = parse_survey_layout(
    {
        "response_id": "response_id",
        "submitted": {"column": "submitted_at", "formats": ["%Y-%m-%d"]},
        "area": "tract_geoid",
        "area_id_kind": "geoid",
        "longitude": "longitude",
        "latitude": "latitude",
        "weight": "weight",
        "questions": {
            **{q: {"scale": LIKERT5} for q in ("feel_safe_day", "feel_safe_night")},
            **{
                q: {"scale": YES_NO, "positive": "Yes"}
                for q in (
                    "unmet_need_housing",
                    "unmet_need_food",
                    "unmet_need_mental_health",
                    "unmet_need_substance_use",
                    "unmet_need_childcare",
                )
            },
        },
    },
    "sample city survey layout",
)

# The columns of the sample facility list; its publisher labels need the YAML's type_map on top.
SAMPLE_FACILITY_MAPPING = parse_facility_mapping({"address_field": "address"}, "sample facilities")

STATE_FIPS = "53"  # Washington
COUNTY_FIPS = "999"  # no such county: the sample city can never be mistaken for real data
COUNTY_NAME = "Sample County"
STATE_NAME = "Washington"

CITY_CENTRE_LONLAT = (-122.33, 47.60)
MULTI_OFFENSE_SIZES = (1, 2, 3)
MULTI_OFFENSE_PROBS = (0.90, 0.065, 0.035)  # ~10% of reports carry 2-3 offenses
EDGE_SHARE = 0.05  # of clean reports geocoded onto a shared area edge
HOTSPOT_TOTAL_SHARE = 0.30
SEASONAL_AMPLITUDE = 0.20  # summer peak (July), winter trough
DEPRIVATION_CRIME_BETA = 0.9  # background intensity multiplier exp(beta * z)
CLEARANCE_M = 1.0  # non-edge points keep this distance from every area edge
EDGE_POINT_DECIMALS = 9


@dataclass(frozen=True)
class Offense:
    code: str
    group: str  # NIBRS Group A or B
    crime_against: str  # PERSON / PROPERTY / SOCIETY
    parent_group: str
    name: str
    weight: float  # relative frequency, roughly Seattle's mix
    sensitive: bool = False


# Real NIBRS codes as Seattle publishes them: code | group | crime against | parent group |
# offense | relative frequency (%, roughly SPD's mix) | sensitive (sexual offences, trafficking).
_NIBRS_TABLE = """
09A|A|PERSON|HOMICIDE OFFENSES|Murder & Nonnegligent Manslaughter|0.05
100|A|PERSON|KIDNAPPING/ABDUCTION|Kidnapping/Abduction|0.25
11A|A|PERSON|SEX OFFENSES|Rape|0.45|sensitive
11B|A|PERSON|SEX OFFENSES|Sodomy|0.08|sensitive
11C|A|PERSON|SEX OFFENSES|Sexual Assault With An Object|0.05|sensitive
11D|A|PERSON|SEX OFFENSES|Fondling|0.4|sensitive
36A|A|PERSON|SEX OFFENSES, CONSENSUAL|Incest|0.01|sensitive
36B|A|PERSON|SEX OFFENSES, CONSENSUAL|Statutory Rape|0.05|sensitive
64A|A|PERSON|HUMAN TRAFFICKING|Human Trafficking, Commercial Sex Acts|0.02|sensitive
64B|A|PERSON|HUMAN TRAFFICKING|Human Trafficking, Involuntary Servitude|0.01|sensitive
13A|A|PERSON|ASSAULT OFFENSES|Aggravated Assault|3.2
13B|A|PERSON|ASSAULT OFFENSES|Simple Assault|8.5
13C|A|PERSON|ASSAULT OFFENSES|Intimidation|3
120|A|PROPERTY|ROBBERY|Robbery|2.2
200|A|PROPERTY|ARSON|Arson|0.3
210|A|PROPERTY|EXTORTION/BLACKMAIL|Extortion/Blackmail|0.2
220|A|PROPERTY|BURGLARY/BREAKING&ENTERING|Burglary/Breaking & Entering|9.5
23A|A|PROPERTY|LARCENY-THEFT|Pocket-picking|0.3
23B|A|PROPERTY|LARCENY-THEFT|Purse-snatching|0.1
23C|A|PROPERTY|LARCENY-THEFT|Shoplifting|5.5
23D|A|PROPERTY|LARCENY-THEFT|Theft From Building|2.5
23E|A|PROPERTY|LARCENY-THEFT|Theft From Coin-Operated Machine or Device|0.1
23F|A|PROPERTY|LARCENY-THEFT|Theft From Motor Vehicle|8.5
23G|A|PROPERTY|LARCENY-THEFT|Theft of Motor Vehicle Parts or Accessories|2.5
23H|A|PROPERTY|LARCENY-THEFT|All Other Larceny|11
240|A|PROPERTY|MOTOR VEHICLE THEFT|Motor Vehicle Theft|8
250|A|PROPERTY|COUNTERFEITING/FORGERY|Counterfeiting/Forgery|0.5
26A|A|PROPERTY|FRAUD OFFENSES|False Pretenses/Swindle/Confidence Game|2.8
26B|A|PROPERTY|FRAUD OFFENSES|Credit Card/Automated Teller Machine Fraud|1.4
26C|A|PROPERTY|FRAUD OFFENSES|Impersonation|0.6
26D|A|PROPERTY|FRAUD OFFENSES|Welfare Fraud|0.02
26E|A|PROPERTY|FRAUD OFFENSES|Wire Fraud|0.4
26F|A|PROPERTY|FRAUD OFFENSES|Identity Theft|2
26G|A|PROPERTY|FRAUD OFFENSES|Hacking/Computer Invasion|0.05
270|A|PROPERTY|EMBEZZLEMENT|Embezzlement|0.2
280|A|PROPERTY|STOLEN PROPERTY OFFENSES|Stolen Property Offenses|0.5
290|A|PROPERTY|DESTRUCTION/DAMAGE/VANDALISM OF PROPERTY|Destruction/Damage/Vandalism of Property|12
35A|A|SOCIETY|DRUG/NARCOTIC OFFENSES|Drug/Narcotic Violations|1.6
35B|A|SOCIETY|DRUG/NARCOTIC OFFENSES|Drug Equipment Violations|0.3
370|A|SOCIETY|PORNOGRAPHY/OBSCENE MATERIAL|Pornography/Obscene Material|0.1
40A|A|SOCIETY|PROSTITUTION OFFENSES|Prostitution|0.15
40B|A|SOCIETY|PROSTITUTION OFFENSES|Assisting or Promoting Prostitution|0.03
520|A|SOCIETY|WEAPON LAW VIOLATIONS|Weapon Law Violations|0.8
720|A|SOCIETY|ANIMAL CRUELTY|Animal Cruelty|0.05
90C|B|SOCIETY|DISORDERLY CONDUCT|Disorderly Conduct|0.3
90D|B|SOCIETY|DRIVING UNDER THE INFLUENCE|Driving Under the Influence|1.1
90E|B|SOCIETY|DRUNKENNESS|Drunkenness|0.05
90F|B|SOCIETY|FAMILY OFFENSES, NONVIOLENT|Family Offenses, Nonviolent|0.3
90G|B|SOCIETY|LIQUOR LAW VIOLATIONS|Liquor Law Violations|0.1
90J|B|SOCIETY|TRESPASS OF REAL PROPERTY|Trespass of Real Property|3
90Z|B|SOCIETY|ALL OTHER OFFENSES|All Other Offenses|4.5
"""


def _parse_offenses(table: str) -> tuple[Offense, ...]:
    offenses = []
    for line in table.strip().splitlines():
        code, group, against, parent, name, weight, *flag = line.split("|")
        offenses.append(Offense(code, group, against, parent, name, float(weight), bool(flag)))
    return tuple(offenses)


NIBRS_OFFENSES: tuple[Offense, ...] = _parse_offenses(_NIBRS_TABLE)
NIBRS_CODES: frozenset[str] = frozenset(o.code for o in NIBRS_OFFENSES)
SENSITIVE_CODES: frozenset[str] = frozenset(o.code for o in NIBRS_OFFENSES if o.sensitive)

UNKNOWN_OFFENSE_CODES = ("99X", "ZZZ", "23Z", "13X", "9ZZ")
UNPARSEABLE_DATES = (
    "13/45/2025 99:00:00 XM",
    "N/A",
    "00/00/0000 00:00:00 AM",
    "02/30/2025 10:15:00 AM",
    "2025-13-45T99:00",
    "UNKNOWN",
)
ZERO_COORDINATES = ("0", "0.0")

# Relative frequency of offense start by local hour: quiet before dawn, busy afternoon/evening.
HOUR_WEIGHTS = (
    4.0, 3.0, 3.0, 2.0, 1.5, 1.5, 2.0, 3.0, 4.0, 4.5, 4.5, 4.5,
    5.5, 4.5, 4.5, 5.0, 5.5, 5.5, 5.5, 5.0, 5.0, 4.5, 4.5, 4.0,
)  # fmt: skip
UNKNOWN_TIME_SHARE = 0.04  # SPD records unknown start times as midnight
MULTILINE_SHARE = 0.001  # of clean rows: a free-text field with an embedded line break

PRECINCT_SECTORS: dict[str, tuple[str, ...]] = {
    "N": ("B", "J", "L", "N", "U"),
    "E": ("C", "E", "G"),
    "S": ("O", "R", "S"),
    "W": ("D", "K", "M", "Q"),
    "SW": ("F", "W"),
}
MCPP_NAMES = (
    "BALLARD NORTH", "BALLARD SOUTH", "FREMONT", "WALLINGFORD", "GREENWOOD", "NORTHGATE",
    "UNIVERSITY", "ROOSEVELT/RAVENNA", "SANDPOINT", "LAKECITY", "QUEEN ANNE", "MAGNOLIA",
    "SLU/CASCADE", "EASTLAKE - WEST", "CAPITOL HILL", "MONTLAKE/PORTAGE BAY", "MADISON PARK",
    "BELLTOWN", "DOWNTOWN COMMERCIAL", "FIRST HILL", "CENTRAL AREA/SQUIRE PARK", "MILLER PARK",
    "PIONEER SQUARE", "CHINATOWN/INTERNATIONAL DISTRICT", "JUDKINS PARK/NORTH BEACON HILL",
    "SODO", "MOUNT BAKER", "COLUMBIA CITY", "NORTH BEACON HILL", "MID BEACON HILL",
    "GEORGETOWN", "RAINIER VIEW", "HIGHLAND PARK", "ALKI", "MORGAN", "HIGH POINT",
)  # fmt: skip
EW_STREETS = (
    "PINE", "PIKE", "UNION", "UNIVERSITY", "SENECA", "SPRING", "MADISON", "MARION", "COLUMBIA",
    "CHERRY", "JAMES", "JEFFERSON", "TERRACE", "YESLER", "WASHINGTON", "MAIN", "JACKSON", "KING",
    "WELLER", "LANE", "DEARBORN", "CHARLES", "BAYVIEW", "HOLGATE", "PLUM", "ATLANTIC",
    "MASSACHUSETTS", "HANFORD", "SPOKANE", "ALASKA",
)  # fmt: skip
FACILITY_NAME_PREFIXES = (
    "Harborview", "Cascade", "Pioneer", "Lakeside", "Evergreen", "Summit", "Riverside", "Beacon",
    "Northgate", "Rainier", "Elliott", "Olympic", "Westlake", "Madrona", "Cedar", "Alder",
    "Juniper", "Meridian", "Sound", "Salmon Bay", "Duwamish", "Interbay", "Lincoln", "Emerald",
    "Union Bay", "Green Lake", "Pike Place", "Seward", "Jefferson", "Columbia", "Yesler",
    "Magnolia", "Fremont", "Delridge", "Orca", "Mercer", "Capitol", "Denny", "Bayview", "Alki",
)  # fmt: skip
FACILITY_TYPE_LABELS = {
    "mental_health": "Mental Health Center",
    "substance_use": "Recovery Services",
    "shelter": "Shelter",
    "clinic": "Community Clinic",
    "youth_services": "Youth Center",
}
FACILITY_TYPE_WEIGHTS = (0.25, 0.2, 0.2, 0.2, 0.15)


@dataclass(frozen=True)
class SampleCityConfig:
    seed: int = 20240601
    n_incidents: int = 120_000  # police CSV records (offense rows), defects included
    first_month: date = date(2024, 7, 1)
    n_months: int = 24  # 2024-07 .. 2026-06 (fixed, never relative to today)
    grid_cols: int = 12  # 12 x 10 = 120 areas
    grid_rows: int = 10
    area_size_m: float = 1200.0
    defect_rate: float = 0.02  # share of records carrying one planted defect
    n_facilities: int = 30

    def __post_init__(self) -> None:
        if self.n_incidents < 1:
            raise ValueError("n_incidents must be at least 1")
        if self.first_month.day != 1:
            raise ValueError("first_month must be the first day of a month")
        if self.n_months < 1:
            raise ValueError("n_months must be at least 1")
        if self.grid_cols < 3 or self.grid_rows < 3:
            raise ValueError("the area grid needs at least 3 x 3 areas")
        if self.area_size_m < 200:
            raise ValueError("area_size_m must be at least 200 metres")
        if not 0 <= self.defect_rate <= 0.5:
            raise ValueError("defect_rate must be between 0 and 0.5")
        if self.n_facilities < 1:
            raise ValueError("n_facilities must be at least 1")


DEFAULT_SAMPLE_CITY = SampleCityConfig()


@dataclass(frozen=True)
class SampleCityFiles:
    police_csv: Path
    areas_geojson: Path
    acs_json: Path
    facilities_csv: Path
    truth_json: Path
    truth_incidents: Path
    survey_csv: Path
    service_requests_csv: Path
    truth_service_requests: Path

    @classmethod
    def in_directory(cls, directory: Path) -> SampleCityFiles:
        """The sample city's files, by their contract names, in `directory`."""
        directory = Path(directory)
        return cls(
            police_csv=directory / POLICE_CSV_NAME,
            areas_geojson=directory / AREAS_GEOJSON_NAME,
            acs_json=directory / ACS_JSON_NAME,
            facilities_csv=directory / FACILITIES_CSV_NAME,
            truth_json=directory / TRUTH_JSON_NAME,
            truth_incidents=directory / TRUTH_INCIDENTS_NAME,
            survey_csv=directory / SURVEY_CSV_NAME,
            service_requests_csv=directory / SERVICE_REQUESTS_CSV_NAME,
            truth_service_requests=directory / TRUTH_SERVICE_REQUESTS_NAME,
        )
