"""The sample city's police incidents as each publisher exports them, with truth for tests.

``render_publisher_sample(layout, out_dir, config)`` writes ``<layout>.csv`` in one of the built-in
police layouts (``crimemap/ingestion/police/layouts/<layout>.yml``): the publisher's exact header
and column order, its own offense codes, and the quirks of its real portal export (LAPD's fake
midnight and unpadded ``TIME OCC``, Chicago's per-victim homicide rows and State Plane feet, SFPD's
WKT points, Baltimore's UTC date-times, byte-order marks, quoted multi-line fields, ...). Beside it:

- ``<layout>_truth_rows.parquet``, per CSV record: ``row_number`` (1-based, header excluded),
  ``defect`` (the reason code the pipeline must quarantine the row with; ``offense_code_unknown``
  marks a kept row whose code is not the publisher's; null for clean rows), ``report_number`` (as
  the pipeline reads the layout's ``report_number`` column, trimmed), and ``area_id`` /
  ``hotspot_id`` / ``on_edge`` of the point as published;
- ``<layout>_truth_offenses.parquet``, per offense the pipeline must produce: ``row_number``,
  ``offense_seq``, ``local_code`` (as written), ``nibrs_code`` (null for a planted unknown code);
- ``<layout>_truth.json``: counts, defects by reason, offenses by NIBRS code, and what the layout
  leaves out.

Every layout publishes the same city (``crimemap.samplecity.incidents.build_sample_city``): the same
reports, times, points and NIBRS offenses. Each layout draws its codes, quirks and defects from its
own stream of the seed, so one seed and config give byte-identical files, and the Seattle render is
exactly ``generate_sample_city``'s police CSV.
"""

from __future__ import annotations

import dataclasses
import json
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from pyproj import Transformer

from crimemap.ingestion.police.layout import PoliceLayout, builtin_layout
from crimemap.samplecity.files import write_atomic, write_parquet, write_text
from crimemap.samplecity.grid import Grid, edge_clearance, format_e9, local_xy, round_e9, to_utm
from crimemap.samplecity.incidents import (
    SampleCity,
    allocate,
    build_sample_city,
    embed_newlines,
    multiline_row_positions,
    out_of_jurisdiction_e9,
    seattle_spd_export,
    skip_dst_gap,
)
from crimemap.samplecity.settings import (
    DEFECT_REASONS,
    MCPP_NAMES,
    NIBRS_OFFENSES,
    SAMPLE_CITY_CRS,
    SAMPLE_CITY_TIMEZONE,
    SampleCityConfig,
)

PUBLISHER_LAYOUTS: tuple[str, ...] = (
    "seattle_spd",
    "lapd",
    "chicago",
    "sfpd",
    "baltimore_legacy",
    "baltimore_nibrs",
)
# Reason codes the pipeline quarantines with, in the order their counts are reported.
PUBLISHER_DEFECT_REASONS: tuple[str, ...] = (
    "missing_key",
    "coordinates_zero",
    "coordinates_missing",
    "out_of_jurisdiction",
    "duplicate_record",
    "date_unparseable",
    "date_future",
    "date_placeholder",
    "offense_code_unknown",
)
DEFECT_WEIGHTS: dict[str, float] = {
    "missing_key": 0.08,
    "coordinates_zero": 0.12,
    "coordinates_missing": 0.15,
    "out_of_jurisdiction": 0.13,
    "duplicate_record": 0.13,
    "date_unparseable": 0.10,
    "date_future": 0.08,
    "date_placeholder": 0.06,
    "offense_code_unknown": 0.15,
}
# The sample city's own State Plane (Washington North, US feet): Chicago-style X/Y Coordinate.
STATE_PLANE_CRS = "EPSG:2926"
_EDGE_M = 0.5  # a published point this close to a second area is on their shared edge
_SNAP_M = 5.0  # the pipeline snaps a point this close to an area into it
_UNPADDED_SHARE = 0.05  # of rows: code (or beat) written without its leading zero
_ALT_LOCATION_SHARE = 0.01  # of clean rows: only a fallback location column is filled
_PLACEHOLDER = np.datetime64("1970-01-01T00:00:00", "s")
_US_FORMAT = "%m/%d/%Y %I:%M:%S %p"
_DEFAULT_CONFIG = SampleCityConfig()

# Where each kind of location ends up: published point, 0/0, blank, or far outside the city.
_LOC_POINT, _LOC_ZERO, _LOC_MISSING, _LOC_OUTSIDE = 0, 1, 2, 3


@dataclass(frozen=True)
class PublisherSample:
    csv: Path
    truth_rows: Path
    truth_offenses: Path
    truth_json: Path


# --------------------------------------------------------------------------------------------
# Local offense codes: the generator's NIBRS offense -> the publisher's own code and labels.


@dataclass(frozen=True)
class LocalCode:
    nibrs_code: str  # the generator's offense this code is drawn for
    code: str  # as the publisher writes it (full width)
    weight: float  # relative frequency among the codes drawn for that offense
    fields: tuple[str, ...]  # the layout's descriptive columns (LOCAL_CODE_FIELDS)


def _parse_codes(table: str) -> tuple[LocalCode, ...]:
    codes = []
    # An indented line starting with "|" continues the line above (keeps the tables readable).
    for line in re.sub(r"\n\s+\|", "|", table.strip()).splitlines():
        nibrs, code, weight, *fields = line.split("|")
        codes.append(LocalCode(nibrs, code, float(weight), tuple(fields)))
    return tuple(codes)


# LAPD "Crm Cd" (nibrs | code | weight | Part 1-2 | Crm Cd Desc), descriptions as LAPD publishes
# them (654's is cut short). The Crime Data set carries no narcotics, DUI, drunkenness, liquor,
# prostitution or stolen-property codes (those are arrests).
_LAPD_CODES = """
09A|110|1|1|CRIMINAL HOMICIDE
100|910|1|2|KIDNAPPING
11A|121|1|1|RAPE, FORCIBLE
11B|821|1|1|SODOMY/SEXUAL CONTACT B/W PENIS OF ONE PERS TO ANUS OTH
11C|815|1|1|SEXUAL PENETRATION W/FOREIGN OBJECT
11D|860|1|2|BATTERY WITH SEXUAL CONTACT
36A|830|1|2|INCEST (SEXUAL ACTS BETWEEN BLOOD RELATIVES)
36B|810|1|2|SEX,UNLAWFUL(INC MUTUAL CONSENT, PENETRATION W/ FRGN OBJ
64A|822|1|2|HUMAN TRAFFICKING - COMMERCIAL SEX ACTS
64B|921|1|2|HUMAN TRAFFICKING - INVOLUNTARY SERVITUDE
13A|230|0.7|1|ASSAULT WITH DEADLY WEAPON, AGGRAVATED ASSAULT
13A|236|0.3|1|INTIMATE PARTNER - AGGRAVATED ASSAULT
13B|624|0.7|2|BATTERY - SIMPLE ASSAULT
13B|626|0.3|2|INTIMATE PARTNER - SIMPLE ASSAULT
13C|930|1|2|CRIMINAL THREATS - NO WEAPON DISPLAYED
120|210|0.8|1|ROBBERY
120|220|0.2|1|ATTEMPTED ROBBERY
200|648|1|1|ARSON
210|940|1|2|EXTORTION
220|310|0.8|1|BURGLARY
220|320|0.2|1|BURGLARY, ATTEMPTED
23A|352|1|1|PICKPOCKET
23B|351|1|1|PURSE SNATCHING
23C|442|0.8|1|SHOPLIFTING - PETTY THEFT ($950 & UNDER)
23C|343|0.2|1|SHOPLIFTING-GRAND THEFT ($950.01 & OVER)
23D|341|1|1|THEFT-GRAND ($950.01 & OVER)EXCPT,GUNS,FOWL,LIVESTK,PROD
23E|474|1|1|THEFT, COIN MACHINE - PETTY ($950 & UNDER)
23F|330|0.6|1|BURGLARY FROM VEHICLE
23F|420|0.4|1|THEFT FROM MOTOR VEHICLE - PETTY ($950 & UNDER)
23G|331|1|1|THEFT FROM MOTOR VEHICLE - GRAND ($950.01 AND OVER)
23H|440|0.6|1|THEFT PLAIN - PETTY ($950 & UNDER)
23H|480|0.2|1|BIKE - STOLEN
23H|341|0.2|1|THEFT-GRAND ($950.01 & OVER)EXCPT,GUNS,FOWL,LIVESTK,PROD
240|510|0.9|1|VEHICLE - STOLEN
240|520|0.1|1|VEHICLE - ATTEMPT STOLEN
250|660|0.5|2|COUNTERFEIT
250|649|0.5|2|DOCUMENT FORGERY / STOLEN FELONY
26A|662|0.6|2|BUNCO, GRAND THEFT
26A|664|0.4|2|BUNCO, PETTY THEFT
26B|653|0.5|2|CREDIT CARDS, FRAUD USE ($950.01 & OVER)
26B|654|0.5|2|CREDIT CARDS, FRAUD USE ($950 & UNDER
26C|354|1|2|THEFT OF IDENTITY
26D|664|1|2|BUNCO, PETTY THEFT
26E|662|1|2|BUNCO, GRAND THEFT
26F|354|1|2|THEFT OF IDENTITY
26G|661|1|2|UNAUTHORIZED COMPUTER ACCESS
270|668|0.5|2|EMBEZZLEMENT, GRAND THEFT ($950.01 & OVER)
270|670|0.5|2|EMBEZZLEMENT, PETTY THEFT ($950 & UNDER)
290|740|0.5|2|VANDALISM - FELONY ($400 & OVER, ALL CHURCH VANDALISMS)
290|745|0.5|2|VANDALISM - MISDEAMEANOR ($399 OR UNDER)
370|814|1|2|CHILD PORNOGRAPHY
40B|805|0.5|2|PIMPING
40B|806|0.5|2|PANDERING
520|756|0.6|2|WEAPONS POSSESSION/BOMBING
520|753|0.4|2|DISCHARGE FIREARMS/SHOTS FIRED
720|943|1|2|CRUELTY TO ANIMALS
90C|886|1|2|DISTURBING THE PEACE
90F|237|0.6|2|CHILD NEGLECT (SEE 300 W.I.C.)
90F|870|0.4|2|CHILD ABANDONMENT
90J|888|1|2|TRESPASSING
90Z|946|0.6|2|OTHER MISCELLANEOUS CRIME
90Z|900|0.4|2|VIOLATION OF COURT ORDER
"""

# Chicago IUCR (nibrs | IUCR | weight | Primary Type | Description | FBI Code), from CPD's IUCR
# list. Chicago has no code for driving under the influence or public drunkenness; several
# thefts share one IUCR.
_CHICAGO_CODES = """
09A|0110|1|HOMICIDE|FIRST DEGREE MURDER|01A
100|4210|0.7|KIDNAPPING|KIDNAPPING|26
100|4230|0.3|KIDNAPPING|UNLAWFUL RESTRAINT|26
11A|0281|0.6|CRIMINAL SEXUAL ASSAULT|NON-AGGRAVATED|02
11A|0265|0.4|CRIMINAL SEXUAL ASSAULT|AGGRAVATED - OTHER|02
11B|0265|1|CRIMINAL SEXUAL ASSAULT|AGGRAVATED - OTHER|02
11C|0265|1|CRIMINAL SEXUAL ASSAULT|AGGRAVATED - OTHER|02
11D|1563|1|SEX OFFENSE|CRIMINAL SEXUAL ABUSE|17
36A|1580|1|SEX OFFENSE|SEXUAL RELATIONS IN FAMILY|17
36B|1562|1|SEX OFFENSE|AGGRAVATED CRIMINAL SEXUAL ABUSE|17
64A|1050|1|HUMAN TRAFFICKING|COMMERCIAL SEX ACTS|26
64B|1055|1|HUMAN TRAFFICKING|INVOLUNTARY SERVITUDE|26
13A|051A|0.3|ASSAULT|AGGRAVATED - HANDGUN|04A
13A|0530|0.2|ASSAULT|AGGRAVATED - OTHER DANGEROUS WEAPON|04A
13A|041A|0.3|BATTERY|AGGRAVATED - HANDGUN|04B
13A|0420|0.2|BATTERY|AGGRAVATED - KNIFE / CUTTING INSTRUMENT|04B
13B|0486|0.45|BATTERY|DOMESTIC BATTERY SIMPLE|08B
13B|0460|0.35|BATTERY|SIMPLE|08B
13B|0560|0.2|ASSAULT|SIMPLE|08A
13C|3960|1|INTIMIDATION|INTIMIDATION|26
120|0320|0.5|ROBBERY|STRONG ARM - NO WEAPON|03
120|031A|0.4|ROBBERY|ARMED - HANDGUN|03
120|0325|0.1|ROBBERY|VEHICULAR HIJACKING|03
200|1020|1|ARSON|BY FIRE|09
210|3970|1|INTIMIDATION|EXTORTION|26
220|0610|0.6|BURGLARY|FORCIBLE ENTRY|05
220|0620|0.4|BURGLARY|UNLAWFUL ENTRY|05
23A|0870|1|THEFT|POCKET-PICKING|06
23B|0880|1|THEFT|PURSE-SNATCHING|06
23C|0860|1|THEFT|RETAIL THEFT|06
23D|0890|1|THEFT|FROM BUILDING|06
23E|0895|1|THEFT|FROM COIN-OPERATED MACHINE OR DEVICE|06
23F|0820|0.6|THEFT|$500 AND UNDER|06
23F|0810|0.4|THEFT|OVER $500|06
23G|0820|1|THEFT|$500 AND UNDER|06
23H|0820|0.6|THEFT|$500 AND UNDER|06
23H|0810|0.4|THEFT|OVER $500|06
240|0910|0.85|MOTOR VEHICLE THEFT|AUTOMOBILE|07
240|0915|0.15|MOTOR VEHICLE THEFT|TRUCK, BUS, MOTOR HOME|07
250|1120|0.6|DECEPTIVE PRACTICE|FORGERY|10
250|1122|0.4|DECEPTIVE PRACTICE|COUNTERFEIT CHECK|10
26A|1130|1|DECEPTIVE PRACTICE|FRAUD OR CONFIDENCE GAME|11
26B|1150|1|DECEPTIVE PRACTICE|CREDIT CARD FRAUD|11
26C|1170|1|DECEPTIVE PRACTICE|IMPERSONATION|11
26D|1130|1|DECEPTIVE PRACTICE|FRAUD OR CONFIDENCE GAME|11
26E|1130|1|DECEPTIVE PRACTICE|FRAUD OR CONFIDENCE GAME|11
26F|1153|0.5|DECEPTIVE PRACTICE|FINANCIAL IDENTITY THEFT OVER $ 300|11
26F|1154|0.5|DECEPTIVE PRACTICE|FINANCIAL IDENTITY THEFT $300 AND UNDER|11
26G|1242|1|DECEPTIVE PRACTICE|COMPUTER FRAUD|11
270|1140|1|DECEPTIVE PRACTICE|EMBEZZLEMENT|12
280|1200|1|DECEPTIVE PRACTICE|STOLEN PROPERTY BUY / RECEIVE / POSSESS|13
290|1310|0.6|CRIMINAL DAMAGE|TO PROPERTY|14
290|1320|0.4|CRIMINAL DAMAGE|TO VEHICLE|14
35A|2022|0.4|NARCOTICS|POSSESS - COCAINE|18
35A|2024|0.3|NARCOTICS|POSSESS - HEROIN (WHITE)|18
35A|2028|0.3|NARCOTICS|POSSESS - SYNTHETIC DRUGS|18
35B|2170|1|NARCOTICS|POSSESSION OF DRUG EQUIPMENT|18
370|1540|1|OBSCENITY|OBSCENE MATTER|26
40A|1506|1|PROSTITUTION|SOLICIT ON PUBLIC WAY|16
40B|1515|0.5|PROSTITUTION|PANDERING|16
40B|1530|0.5|PROSTITUTION|PIMPING|16
520|143A|0.6|WEAPONS VIOLATION|UNLAWFUL POSSESSION - HANDGUN|15
520|141A|0.4|WEAPONS VIOLATION|UNLAWFUL USE - HANDGUN|15
720|501A|1|OTHER OFFENSE|ANIMAL ABUSE / NEGLECT|26
90C|2890|0.7|PUBLIC PEACE VIOLATION|OTHER VIOLATION|24
90C|0470|0.3|PUBLIC PEACE VIOLATION|RECKLESS CONDUCT|24
90F|1710|0.6|OFFENSE INVOLVING CHILDREN|ENDANGERING LIFE / HEALTH OF CHILD|20
90F|1755|0.4|OFFENSE INVOLVING CHILDREN|CHILD ABANDONMENT|20
90G|2220|0.6|LIQUOR LAW VIOLATION|ILLEGAL POSSESSION BY MINOR|22
90G|2250|0.4|LIQUOR LAW VIOLATION|LIQUOR LICENSE VIOLATION|22
90J|1330|0.6|CRIMINAL TRESPASS|TO LAND|26
90J|1365|0.4|CRIMINAL TRESPASS|TO RESIDENCE|26
90Z|4387|0.5|OTHER OFFENSE|VIOLATE ORDER OF PROTECTION|26
90Z|5001|0.5|OTHER OFFENSE|OTHER CRIME INVOLVING PROPERTY|26
"""

# SFPD "Incident Code" (nibrs | code | weight | Incident Category | Incident Subcategory |
# Incident Description), codes from DataSF's incident code crosswalk. SFPD has no code for driving
# under the influence; offenses it has no code of their own for (sexual assault with an object,
# incest, coin-machine theft, welfare / wire fraud, identity theft, hacking, promoting
# prostitution, animal cruelty) get the general code of the same kind.
_SFPD_CODES = """
09A|01000|1|Homicide|Homicide|Homicide
100|26140|0.7|Other Miscellaneous|Other|Kidnapping
100|04170|0.3|Assault|Other|False Imprisonment
11A|02001|1|Rape|Rape|Rape
11B|14072|1|Rape|Rape|Rape
11C|02001|1|Rape|Rape|Rape
11D|14020|1|Sex Offense|Sex Offense|Sex Offense
36A|14020|1|Sex Offense|Sex Offense|Sex Offense
36B|02010|1|Rape|Rape|Unlawful Sexual Intercourse with Minor
64A|13045|1|Human Trafficking (A), Commercial Sex Acts
    |Human Trafficking, Commercial Sex Acts|Human Trafficking, Commercial Sex Acts
64B|13080|1|Human Trafficking (B), Involuntary Servitude
    |Human Trafficking, Involuntary Servitude|Human Trafficking, Involuntary Servitude
13A|04014|0.5|Assault|Aggravated Assault|Assault, Aggravated, W/ Force
13A|04012|0.3|Assault|Aggravated Assault|Assault, Aggravated, W/ Knife
13A|04011|0.2|Assault|Aggravated Assault|Aggravated Assault
13B|04134|0.8|Assault|Simple Assault|Battery
13B|04138|0.2|Assault|Simple Assault|Battery, former Spouse or Dating Relationship
13C|19057|1|Disorderly Conduct|Intimidation|Terrorist Threats
120|03011|0.4|Robbery|Robbery - Street|Robbery, Street or Public Place, W/ Gun
120|03014|0.4|Robbery|Robbery - Street|Robbery - Street
120|03021|0.2|Robbery|Robbery - Commercial|Robbery - Commercial
200|26030|1|Arson|Arson|Arson
210|26040|1|Other Miscellaneous|Extortion-Blackmail|Extortion-Blackmail
220|05041|0.4|Burglary|Burglary - Residential|Burglary, Residence, Forcible Entry
220|05011|0.3|Burglary|Burglary - Residential|Burglary, Apartment House, Forcible Entry
220|05051|0.3|Burglary|Burglary - Commercial|Burglary - Commercial
23A|06113|1|Larceny Theft|Larceny Theft - Pickpocket|Theft, Pickpocket, $200-$950
23B|06130|1|Larceny Theft|Larceny Theft - Purse Snatch|Larceny Theft - Purse Snatch
23C|06362|0.6|Larceny Theft|Larceny Theft - Shoplifting|Theft, Shoplifting, $50-$200
23C|06364|0.4|Larceny Theft|Larceny Theft - Shoplifting|Theft, Shoplifting, >$950
23D|06303|0.6|Larceny Theft|Larceny Theft - From Building|Theft, From Building, $200-$950
23D|06304|0.4|Larceny Theft|Larceny Theft - From Building|Theft, From Building, >$950
23E|06120|1|Larceny Theft|Larceny Theft - Other|Larceny Theft - Other
23F|06244|0.5|Larceny Theft|Larceny - From Vehicle|Theft, From Locked Vehicle, >$950
23F|06243|0.3|Larceny Theft|Larceny - From Vehicle|Theft, From Locked Vehicle, $200-$950
23F|06224|0.2|Larceny Theft|Larceny - From Vehicle|Theft, From Unlocked Vehicle, >$950
23G|06210|1|Larceny Theft|Larceny - Auto Parts|Larceny - Auto Parts
23H|06372|0.5|Larceny Theft|Larceny Theft - Other|Theft, Other Property, $50-$200
23H|06126|0.2|Larceny Theft|Larceny Theft - Other|Theft of Computers or Cell Phones
23H|06120|0.3|Larceny Theft|Larceny Theft - Other|Larceny Theft - Other
240|07021|0.8|Motor Vehicle Theft|Motor Vehicle Theft|Vehicle, Stolen, Auto
240|07025|0.2|Motor Vehicle Theft|Motor Vehicle Theft|Vehicle, Stolen, Truck
250|09020|1|Forgery And Counterfeiting|Forgery And Counterfeiting|Forgery And Counterfeiting
26A|09024|0.5|Fraud|Fraud|Fraudulent Game or Trick, Obtaining Money or Property
26A|09022|0.5|Fraud|Fraud|Fraud
26B|09320|1|Fraud|Fraud|Access Card, incl. Credit, Phone, ATM, Fraudulent Use of
26C|09027|1|Fraud|Fraud|False Personation
26D|09022|1|Fraud|Fraud|Fraud
26E|09022|1|Fraud|Fraud|Fraud
26F|09022|1|Fraud|Fraud|Fraud
26G|09022|1|Fraud|Fraud|Fraud
270|10010|1|Embezzlement|Embezzlement|Embezzlement
280|11012|1|Stolen Property|Stolen Property|Stolen Property, Possession with Knowledge, Receiving
290|28150|0.6|Malicious Mischief|Vandalism|Malicious Mischief, Vandalism to Property
290|28160|0.4|Malicious Mischief|Vandalism|Malicious Mischief, Vandalism to Vehicle
35A|16100|0.6|Drug Offense|Drug Violation|Heroin Offense
35A|16030|0.4|Drug Offense|Drug Violation|Marijuana, Possession For Sale
35B|16710|1|Drug Offense|Drug Violation|Narcotics Paraphernalia, Possession of
370|14017|1|Sex Offense|Sex Offense|Obscene Matter, Distribution to Minors
40A|13010|1|Prostitution|Prostitution|Prostitution
40B|13010|1|Prostitution|Prostitution|Prostitution
520|12025|1|Weapons Offense|Weapons Offense|Weapons Offense
720|07202|1|Other Miscellaneous|Other|Other
90C|19022|1|Disorderly Conduct|Disorderly Conduct|Disturbing The Peace
90E|19090|1|Disorderly Conduct|Drunkenness|Drunkenness
90F|15051|1|Offences Against The Family And Children|Family Offenses
    |Children, Abandonment & Neglect of (general)
90G|17080|1|Liquor Laws|Liquor Laws|Alcohol, Sale Of To Minor
90J|27195|1|Other Miscellaneous|Other|Trespassing
90Z|07202|1|Other Miscellaneous|Other|Other
"""

# Baltimore "CrimeCode" (nibrs | code | weight | Description | Weapon). Part 1 crimes only:
# homicide, rape, robbery, aggravated and common assault, shooting, burglary, larceny, auto
# theft, arson. Larceny sub-codes follow the UCR letters (6D larceny from auto).
_BALTIMORE_CODES = """
09A|1F|0.7|HOMICIDE|FIREARM
09A|1K|0.15|HOMICIDE|KNIFE
09A|1O|0.15|HOMICIDE|OTHER
11A|2A|0.8|RAPE|
11A|2B|0.2|RAPE|
11B|2A|1|RAPE|
11C|2A|1|RAPE|
13A|4A|0.3|AGG. ASSAULT|FIREARM
13A|4B|0.25|AGG. ASSAULT|KNIFE
13A|4C|0.25|AGG. ASSAULT|OTHER
13A|4D|0.1|AGG. ASSAULT|HANDS
13A|9S|0.1|SHOOTING|FIREARM
13B|4E|1|COMMON ASSAULT|HANDS
120|3B|0.45|ROBBERY - STREET|OTHER
120|3AF|0.25|ROBBERY - STREET|FIREARM
120|3CF|0.15|ROBBERY - COMMERCIAL|FIREARM
120|3JF|0.15|ROBBERY - RESIDENCE|FIREARM
200|8AO|1|ARSON|
220|5A|0.6|BURGLARY|
220|5D|0.4|BURGLARY|
23A|6A|1|LARCENY|
23B|6B|1|LARCENY|
23C|6C|1|LARCENY|
23D|6G|1|LARCENY|
23E|6H|1|LARCENY|
23F|6D|1|LARCENY FROM AUTO|
23G|6E|1|LARCENY|
23H|6J|0.8|LARCENY|
23H|6F|0.2|LARCENY|
240|7A|0.9|AUTO THEFT|
240|7C|0.1|AUTO THEFT|
"""

_SEATTLE_CODES = "\n".join(f"{o.code}|{o.code}|1|{o.name}" for o in NIBRS_OFFENSES)

LOCAL_CODES: dict[str, tuple[LocalCode, ...]] = {
    "seattle_spd": _parse_codes(_SEATTLE_CODES),
    "lapd": _parse_codes(_LAPD_CODES),
    "chicago": _parse_codes(_CHICAGO_CODES),
    "sfpd": _parse_codes(_SFPD_CODES),
    "baltimore_legacy": _parse_codes(_BALTIMORE_CODES),
    "baltimore_nibrs": _parse_codes(_BALTIMORE_CODES),
}
LOCAL_CODE_FIELDS: dict[str, tuple[str, ...]] = {
    "seattle_spd": ("Offense",),
    "lapd": ("Part 1-2", "Crm Cd Desc"),
    "chicago": ("Primary Type", "Description", "FBI Code"),
    "sfpd": ("Incident Category", "Incident Subcategory", "Incident Description"),
    "baltimore_legacy": ("Description", "Weapon"),
    "baltimore_nibrs": ("Description", "Weapon"),
}


def local_code_table(layout: str) -> pl.DataFrame:
    """A layout's code table: nibrs_code, local_code, weight and its descriptive columns."""
    codes = LOCAL_CODES[layout]
    fields = LOCAL_CODE_FIELDS[layout]
    return pl.DataFrame(
        {
            "nibrs_code": [c.nibrs_code for c in codes],
            "local_code": [c.code for c in codes],
            "weight": [c.weight for c in codes],
            **{f: [c.fields[i] or None for c in codes] for i, f in enumerate(fields)},
        },
        schema_overrides=dict.fromkeys(fields, pl.String),
    )


# --------------------------------------------------------------------------------------------
# Per-layout settings


@dataclass(frozen=True)
class _Spec:
    reasons: tuple[str, ...]  # planted defect reasons
    decimals: int  # of published longitude / latitude
    text: str  # free-text column that sometimes spans lines
    unknown_codes: tuple[str, ...]  # codes not in the publisher's list
    bad_dates: tuple[str, ...]  # occurred values no layout format parses
    header: dict[str, str] = dataclasses.field(default_factory=dict)  # published header quirks
    bom: bool = False
    unpadded: bool = False  # some codes written without their leading zero


_ALL_REASONS = PUBLISHER_DEFECT_REASONS
_SPECS: dict[str, _Spec] = {
    "lapd": _Spec(
        # LAPD writes a missing location as 0, 0: there is no blank-coordinates defect.
        reasons=tuple(r for r in _ALL_REASONS if r != "coordinates_missing"),
        decimals=4,
        text="LOCATION",
        unknown_codes=("000", "999", "099"),
        bad_dates=(
            "13/45/2024 12:00:00 AM",
            "00/00/0000 12:00:00 AM",
            "02/30/2025 12:00:00 AM",
            "N/A",
            "UNKNOWN",
        ),
        header={"Crm Cd Desc": "Crm Cd Desc "},
    ),
    "chicago": _Spec(
        reasons=_ALL_REASONS,
        decimals=9,
        text="Block",
        unknown_codes=("9999", "0000", "9ZZZ"),
        bad_dates=(
            "13/45/2025 09:00:00 PM",
            "00/00/0000 00:00:00 AM",
            "2025-13-45T99:00:00",
            "N/A",
            "UNKNOWN",
        ),
        unpadded=True,
    ),
    "sfpd": _Spec(
        reasons=_ALL_REASONS,
        decimals=9,
        text="Intersection",
        unknown_codes=("99999", "00000", "99998"),
        bad_dates=(
            "2025/13/45 09:00:00 PM",
            "0000/00/00 12:00:00 AM",
            "2025/02/30 10:15:00 AM",
            "N/A",
            "UNKNOWN",
        ),
        bom=True,
        unpadded=True,
    ),
    "baltimore_legacy": _Spec(
        # No incident number and no row id: nothing to leave blank.
        reasons=tuple(r for r in _ALL_REASONS if r != "missing_key"),
        decimals=5,
        text="Location",
        unknown_codes=("9Z", "0X", "ZZ"),
        bad_dates=("13/45/2025", "00/00/0000", "02/30/2025", "N/A", "UNKNOWN"),
        header={"Total Incidents": "Total Incidents "},
        bom=True,
    ),
    "baltimore_nibrs": _Spec(
        reasons=_ALL_REASONS,
        decimals=4,
        text="Location",
        unknown_codes=("9Z", "0X", "ZZ"),
        bad_dates=(
            "2025/13/45 09:00:00+00",
            "0000/00/00 00:00:00+00",
            # Not "2025/02/30": DuckDB's %z parsing rolls an impossible day over (to March 2).
            "2025-13-45T99:00:00+00",
            "N/A",
            "UNKNOWN",
        ),
        bom=True,
    ),
}

_NOTES_COMMON = {
    "rows": "one truth row per CSV record; row_number is the 1-based record index",
    "defects": "each defective row carries exactly one planted defect; clean rows break no rule",
    "offense_code_unknown": "kept by the pipeline (category unmapped); its offense has no NIBRS",
    "duplicate_record": "a later row replaced by an exact copy of an earlier clean row",
    "area_id": "area of the point as published (after the publisher's rounding or fallback "
    "column); null where the row has no usable location",
    "on_edge": f"published point within {_EDGE_M} m of an edge shared by two areas; area_id is "
    "either of the two",
    "nibrs_code": "the generator's offense behind the local code; several offenses can share "
    "one local code, so compare categories, not codes",
}
_NOTES: dict[str, dict[str, str]] = {
    "seattle_spd": {
        "grain": "one row per offense; offense codes are NIBRS already; nothing is dropped",
    },
    "lapd": {
        "grain": "one row per report (DR_NO): its first four offenses in Crm Cd (= Crm Cd 1), "
        "Crm Cd 2, Crm Cd 3, Crm Cd 4",
        "dropped": "LAPD Crime Data has no narcotics, DUI, drunkenness, liquor, prostitution or "
        "stolen-property codes; reports with only such offenses are not published",
        "dates": "DATE OCC / Date Rptd carry a fake midnight; TIME OCC is an unpadded hhmm",
        "location": "4 decimals (about 10 m); a missing location is written 0, 0",
    },
    "chicago": {
        "grain": "one row per report with its first offense only; homicides one row per victim "
        "(same Case Number, distinct ID)",
        "dropped": "secondary offenses; Chicago has no IUCR for DUI or drunkenness",
        "location": "Latitude/Longitude, else Location '(lat, lon)', else X/Y Coordinate in "
        f"{STATE_PLANE_CRS} US feet (the sample city's State Plane, not Illinois East)",
        "codes": "IUCR sometimes written without its leading zero ('486' for '0486')",
    },
    "sfpd": {
        "grain": "one row per offense; offenses of an incident share Incident Number and "
        "Incident ID; Row ID = Incident ID + 5-digit Incident Code",
        "dropped": "SFPD has no incident code for driving under the influence",
        "codes": "Incident Code sometimes written without its leading zero ('7021')",
        "location": "Latitude/Longitude, else point 'POINT (lon lat)'",
    },
    "baltimore_legacy": {
        "grain": "one row per Part 1 offense of a report; no id links rows of one report, so "
        "every row is its own incident",
        "dropped": "everything but Part 1 crimes (homicide, rape, robbery, aggravated and common "
        "assault, shooting, burglary, larceny, auto theft, arson)",
        "dates": "CrimeDate is a date; CrimeTime 'HH:MM:SS' in some rows, unpadded hhmm in others",
    },
    "baltimore_nibrs": {
        "grain": "one row per victim of each Part 1 offense; rows of one incident share the "
        "CCNumber",
        "dropped": "everything but Part 1 crimes (homicide, rape, robbery, aggravated and common "
        "assault, shooting, burglary, larceny, auto theft, arson)",
        "dates": "CrimeDateTime is UTC with a '+00' offset",
    },
}


# --------------------------------------------------------------------------------------------
# Geometry of published points


def _nearest_areas(
    grid: Grid, lon: np.ndarray, lat: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best area, its clearance and the runner-up's clearance (m, > 0 inside) of lon/lat points.

    Clearance is judged against the published (lon/lat-straight) edges, like the grid's own
    point location; candidates are the 3 x 3 plain grid cells around the point.
    """
    x, y = to_utm().transform(lon, lat)
    px, py = local_xy(lon, lat, grid.ref_lonlat, grid.metres_per_degree)
    r0 = np.floor((np.asarray(y) - grid.origin[1]) / grid.size).astype(np.int64)
    c0 = np.floor((np.asarray(x) - grid.origin[0]) / grid.size).astype(np.int64)
    dist, cand = [], []
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            r, c = r0 + dr, c0 + dc
            valid = (r >= 0) & (r < grid.rows) & (c >= 0) & (c < grid.cols)
            k = np.clip(r, 0, grid.rows - 1) * grid.cols + np.clip(c, 0, grid.cols - 1)
            dist.append(np.where(valid, edge_clearance(grid, k, px, py), -np.inf))
            cand.append(k)
    d, k = np.stack(dist, axis=1), np.stack(cand, axis=1)
    top = np.argsort(-d, axis=1, kind="stable")[:, :2]
    rows = np.arange(d.shape[0])
    return k[rows, top[:, 0]], d[rows, top[:, 0]], d[rows, top[:, 1]]


def _area_truth(grid: Grid, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Area index (-1: none the pipeline would assign) and on-edge flag of published points."""
    if lon.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
    area, best, second = _nearest_areas(grid, lon, lat)
    area = np.where(best > -_SNAP_M, area, -1)
    return area, (second > -_EDGE_M) & (area >= 0)


def _publish_points(
    grid: Grid, lon_e9: np.ndarray, lat_e9: np.ndarray, decimals: int
) -> tuple[np.ndarray, np.ndarray]:
    """Round points to the publisher's decimals, keeping them inside the city.

    A coarse rounding (LAPD's 4 decimals move a point up to ~6 m) can push a point near the city
    limit outside it; such points take the neighbouring lattice corner that lies inside, as a
    block-centroid geocoder would. Points on a shared edge are left where rounding puts them.
    """
    k = np.full(lon_e9.shape, decimals)
    lon, lat = round_e9(lon_e9, k), round_e9(lat_e9, k)
    if decimals >= 9 or lon.size == 0:
        return lon, lat
    _, best, second = _nearest_areas(grid, lon / 1e9, lat / 1e9)
    stray = np.flatnonzero((best < 0) & (second <= -_EDGE_M))
    if stray.size:
        step = 10 ** (9 - decimals)
        lo0, la0 = lon_e9[stray] // step * step, lat_e9[stray] // step * step
        corners = [(lo0 + i * step, la0 + j * step) for i in (0, 1) for j in (0, 1)]
        clear = np.stack(
            [_nearest_areas(grid, cx / 1e9, cy / 1e9)[1] for cx, cy in corners], axis=1
        )
        pick = clear.argmax(axis=1)
        cx = np.stack([c[0] for c in corners], axis=1)[np.arange(stray.size), pick]
        cy = np.stack([c[1] for c in corners], axis=1)[np.arange(stray.size), pick]
        lon[stray], lat[stray] = cx, cy
    return lon, lat


def _to_state_plane() -> Transformer:
    return Transformer.from_crs("EPSG:4326", STATE_PLANE_CRS, always_xy=True)


# --------------------------------------------------------------------------------------------
# Rows of a layout, before rendering


@dataclass(frozen=True)
class _Rows:
    """One entry per CSV record: its report, and its offense slots (the layout's offense_codes
    columns) as indices into the layout's code table and into NIBRS_OFFENSES (-1 = empty)."""

    report: np.ndarray
    entry: np.ndarray  # (n, slots)
    offense: np.ndarray  # (n, slots)


def _draw_entries(
    codes: tuple[LocalCode, ...], nibrs: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """A code-table index per canonical offense (weighted among its codes), -1 if unpublished."""
    offense_of = {o.code: i for i, o in enumerate(NIBRS_OFFENSES)}
    group = np.array([offense_of[c.nibrs_code] for c in codes])
    order = np.argsort(group, kind="stable")
    group_sorted = group[order]
    weight = np.array([c.weight for c in codes])[order]
    totals = np.bincount(group_sorted, weights=weight, minlength=len(NIBRS_OFFENSES))
    cum = np.cumsum(weight) - np.concatenate([[0.0], np.cumsum(totals)])[group_sorted]
    key = group_sorted + cum / totals[group_sorted]  # strictly increasing, (g, g + 1] per group
    u = rng.random(nibrs.size)
    pick = np.searchsorted(key, nibrs + u, side="right")
    published = np.isin(nibrs, group_sorted)
    return np.where(published, order[np.clip(pick, 0, len(order) - 1)], -1)


def _published_offenses(
    city: SampleCity, codes: tuple[LocalCode, ...], rng: np.random.Generator
) -> pl.DataFrame:
    """Canonical offenses with a local code: unpublished ones dropped, and a report's repeated
    local code kept once (two offenses that the publisher cannot tell apart are one row)."""
    offense = city.offenses.get_column("offense").to_numpy()
    entry = _draw_entries(codes, offense, rng)
    code = pl.Series([c.code for c in codes]).gather(np.clip(entry, 0, None))
    return (
        city.offenses.select("report", "offense")
        .with_columns(pl.Series("entry", entry), code.alias("code"))
        .filter(pl.col("entry") >= 0)
        .unique(subset=["report", "code"], keep="first", maintain_order=True)
        .drop("code")
    )


def _victims(offense: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Victims per row: 1-3 for crimes against persons (mostly 1), 1 otherwise."""
    against = np.array([o.crime_against == "PERSON" for o in NIBRS_OFFENSES])
    n = rng.choice(np.array([1, 2, 3]), size=offense.size, p=[0.8, 0.15, 0.05])
    return np.where(against[offense], n, 1)


def _homicide_victims(n: int, rng: np.random.Generator) -> np.ndarray:
    """Victims of each homicide: 1-3, and the first homicide has several, so a multi-victim
    case is always there to test however few homicides a small city has."""
    victims = rng.choice(np.array([1, 2, 3]), size=n, p=[0.6, 0.3, 0.1])
    if n:
        victims[0] = max(victims[0], 2)
    return victims


def _expand(report: np.ndarray, entry: np.ndarray, offense: np.ndarray, n: np.ndarray) -> _Rows:
    """`n` rows for each offense (one per victim)."""
    idx = np.repeat(np.arange(report.size), n)
    return _Rows(report[idx], entry[idx][:, None], offense[idx][:, None])


def _rows_per_offense(published: pl.DataFrame) -> _Rows:
    n = published.height
    return _expand(
        published.get_column("report").to_numpy(),
        published.get_column("entry").to_numpy(),
        published.get_column("offense").to_numpy(),
        np.ones(n, dtype=np.int64),
    )


def _rows_per_report(published: pl.DataFrame, slots: int) -> _Rows:
    """LAPD: one row per report, its first `slots` offenses side by side."""
    ranked = published.with_columns(pl.int_range(pl.len()).over("report").alias("slot")).filter(
        pl.col("slot") < slots
    )
    report = ranked.get_column("report").unique(maintain_order=True).to_numpy()
    row = np.searchsorted(report, ranked.get_column("report").to_numpy())
    slot = ranked.get_column("slot").to_numpy()
    entry = np.full((report.size, slots), -1, dtype=np.int64)
    offense = np.full((report.size, slots), -1, dtype=np.int64)
    entry[row, slot] = ranked.get_column("entry").to_numpy()
    offense[row, slot] = ranked.get_column("offense").to_numpy()
    return _Rows(report, entry, offense)


def _build_rows(
    layout: str, published: pl.DataFrame, rng: np.random.Generator, slots: int
) -> _Rows:
    if layout == "lapd":
        return _rows_per_report(published, slots)
    if layout == "chicago":
        first = published.unique(subset="report", keep="first", maintain_order=True)
        offense = first.get_column("offense").to_numpy()
        homicide = np.array([o.code == "09A" for o in NIBRS_OFFENSES])[offense]
        n = np.ones(offense.size, dtype=np.int64)
        n[homicide] = _homicide_victims(int(homicide.sum()), rng)
        return _expand(
            first.get_column("report").to_numpy(),
            first.get_column("entry").to_numpy(),
            offense,
            n,
        )
    if layout == "baltimore_nibrs":
        offense = published.get_column("offense").to_numpy()
        return _expand(
            published.get_column("report").to_numpy(),
            published.get_column("entry").to_numpy(),
            offense,
            _victims(offense, rng),
        )
    return _rows_per_offense(published)


# --------------------------------------------------------------------------------------------
# Defects and quirks, planned before rendering


@dataclass(frozen=True)
class _Plan:
    defect: np.ndarray  # index into PUBLISHER_DEFECT_REASONS, -1 = clean
    source: np.ndarray  # row each row is copied from (itself unless a planted duplicate)

    def at(self, reason: str) -> np.ndarray:
        return np.flatnonzero(self.defect == PUBLISHER_DEFECT_REASONS.index(reason))

    @property
    def clean(self) -> np.ndarray:
        return self.defect < 0


def _plan_defects(n: int, reasons: tuple[str, ...], rate: float, rng: np.random.Generator) -> _Plan:
    """`rate` of the rows get exactly one defect; duplicates copy an earlier clean row."""
    n_defects = min(round(rate * n), max(n - 1, 0))
    counts = allocate(n_defects, tuple(DEFECT_WEIGHTS[r] for r in reasons))
    # Row 0 stays clean so every duplicate has an earlier clean original to copy.
    positions = (
        rng.choice(np.arange(1, n), size=n_defects, replace=False)
        if n_defects
        else np.array([], dtype=np.int64)
    )
    codes = np.array([PUBLISHER_DEFECT_REASONS.index(r) for r in reasons], dtype=np.int64)
    defect = np.full(n, -1, dtype=np.int64)
    defect[np.asarray(positions, dtype=np.int64)] = rng.permutation(np.repeat(codes, counts))
    clean = np.flatnonzero(defect < 0)
    dup = np.flatnonzero(defect == PUBLISHER_DEFECT_REASONS.index("duplicate_record"))
    n_before = np.searchsorted(clean, dup)
    source = np.arange(n)
    source[dup] = clean[np.floor(rng.random(dup.size) * n_before).astype(np.int64)]
    return _Plan(defect=defect, source=source)


def _some(rows: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """A sorted random `share` of `rows` (at least one when there are any)."""
    n = min(max(round(share * rows.size), 1), rows.size)
    return np.sort(rng.choice(rows, size=n, replace=False)) if n else rows[:0]


def _occurred(times: np.ndarray, plan: _Plan, rng: np.random.Generator) -> np.ndarray:
    """Occurred local date-times, with planted future (2099) and placeholder (1970) dates."""
    t = times.copy()
    future = plan.at("date_future")
    minutes = rng.integers(0, 365 * 24 * 60, size=future.size) * 60
    t[future] = skip_dst_gap(np.datetime64("2099-01-01T00:00:00") + minutes.astype("m8[s]"))
    t[plan.at("date_placeholder")] = _PLACEHOLDER
    return t


@dataclass(frozen=True)
class _Location:
    kind: np.ndarray  # _LOC_* per row
    lon_e9: np.ndarray  # published lon/lat, 1e-9 degrees (meaningful for point / outside)
    lat_e9: np.ndarray
    fallback: np.ndarray  # 0: all columns; 1: only the text/WKT column; 2: only projected X/Y


def _locations(
    city: SampleCity, rows: _Rows, plan: _Plan, spec: _Spec, rng: np.random.Generator
) -> _Location:
    reports = city.reports
    lon, lat = _publish_points(
        city.grid,
        reports.get_column("lon_e9").to_numpy(),
        reports.get_column("lat_e9").to_numpy(),
        spec.decimals,
    )
    lon, lat = lon[rows.report], lat[rows.report]
    kind = np.full(rows.report.size, _LOC_POINT, dtype=np.int64)
    kind[plan.at("coordinates_zero")] = _LOC_ZERO
    kind[plan.at("coordinates_missing")] = _LOC_MISSING
    outside = plan.at("out_of_jurisdiction")
    kind[outside] = _LOC_OUTSIDE
    o_lon, o_lat, _ = out_of_jurisdiction_e9(city.grid, outside.size, rng)
    k = np.full(outside.size, spec.decimals)
    lon[outside], lat[outside] = round_e9(o_lon, k), round_e9(o_lat, k)
    return _Location(kind=kind, lon_e9=lon, lat_e9=lat, fallback=np.zeros_like(kind))


def _with_fallbacks(loc: _Location, plan: _Plan, modes: int, rng: np.random.Generator) -> _Location:
    """Some clean rows publish only a fallback location column (modes 1..`modes`)."""
    fallback = np.zeros_like(loc.kind)
    candidates = np.flatnonzero(plan.clean)
    for mode in range(1, modes + 1):
        chosen = _some(np.setdiff1d(candidates, np.flatnonzero(fallback)), _ALT_LOCATION_SHARE, rng)
        fallback[chosen] = mode
    return dataclasses.replace(loc, fallback=fallback)


@dataclass(frozen=True)
class _Codes:
    written: list[pl.Series]  # per offense slot, as written in the file (null = empty)
    full: list[pl.Series]  # per slot, at full width (what the publisher's ids are built from)
    nibrs: list[pl.Series]  # per slot, the generator's NIBRS code (null: unknown or empty)


def _codes(
    rows: _Rows,
    codes: tuple[LocalCode, ...],
    plan: _Plan,
    spec: _Spec,
    rng: np.random.Generator,
) -> _Codes:
    table = pl.Series([c.code for c in codes], dtype=pl.String)
    nibrs_table = pl.Series([o.code for o in NIBRS_OFFENSES], dtype=pl.String)
    full, nibrs = [], []
    for slot in range(rows.entry.shape[1]):
        entry, offense = rows.entry[:, slot], rows.offense[:, slot]
        empty = pl.Series(entry < 0)
        full.append(
            pl.select(pl.when(~empty).then(table.gather(np.clip(entry, 0, None)))).to_series()
        )
        nibrs.append(
            pl.select(
                pl.when(~empty).then(nibrs_table.gather(np.clip(offense, 0, None)))
            ).to_series()
        )
    unknown = plan.at("offense_code_unknown")
    picks = np.array(spec.unknown_codes)[rng.integers(0, len(spec.unknown_codes), unknown.size)]
    full[0] = full[0].scatter(unknown, pl.Series(picks.tolist(), dtype=pl.String))
    nibrs[0] = nibrs[0].scatter(unknown, pl.Series([None] * unknown.size, dtype=pl.String))
    written = [s.clone() for s in full]
    if spec.unpadded:
        not_unknown = np.ones(rows.report.size, dtype=bool)
        not_unknown[unknown] = False
        eligible = np.flatnonzero(full[0].str.starts_with("0").to_numpy() & not_unknown)
        short = _some(eligible, _UNPADDED_SHARE * rows.report.size / max(eligible.size, 1), rng)
        written[0] = written[0].scatter(short, full[0].gather(short).str.slice(1))
    return _Codes(written=written, full=full, nibrs=nibrs)


# --------------------------------------------------------------------------------------------
# Rendering helpers


def _pick(
    rng: np.random.Generator, options: Sequence[str], n: int, p: Sequence[float] | None = None
) -> pl.Series:
    weights = None if p is None else np.asarray(p, dtype=np.float64) / np.sum(p)
    idx = rng.choice(len(options), size=n, p=weights)
    return pl.Series(list(options), dtype=pl.String).gather(idx)


def _area_blocks(grid: Grid, nx: int, ny: int) -> np.ndarray:
    """Group areas into an nx x ny patchwork of police districts (block index per area)."""
    r, c = np.divmod(np.arange(grid.n_areas), grid.cols)
    return (r * ny // grid.rows) * nx + (c * nx // grid.cols)


def _rank_within(groups: np.ndarray) -> np.ndarray:
    """0-based order of each item within its group."""
    order = np.argsort(groups, kind="stable")
    ranked = groups[order]
    rank = np.empty(groups.size, dtype=np.int64)
    rank[order] = np.arange(groups.size) - np.searchsorted(ranked, ranked, side="left")
    return rank


def _degrees(e9: np.ndarray, decimals: int) -> pl.Series:
    return format_e9(e9, np.full(e9.shape, decimals))


def _lonlat_text(
    loc: _Location, spec: _Spec, rng: np.random.Generator, zero: str | None
) -> tuple[pl.Series, pl.Series]:
    """Longitude and latitude columns: the point, '0' / '0.0' placeholders, or blank."""
    lon, lat = _degrees(loc.lon_e9, spec.decimals), _degrees(loc.lat_e9, spec.decimals)
    zero_rows = np.flatnonzero(loc.kind == _LOC_ZERO)
    zeros = (
        pl.Series([zero] * zero_rows.size, dtype=pl.String)
        if zero is not None
        else _pick(rng, ("0", "0.0"), zero_rows.size)
    )
    blank = np.flatnonzero((loc.kind == _LOC_MISSING) | (loc.fallback > 0))
    nulls = pl.Series([None] * blank.size, dtype=pl.String)
    lon = lon.scatter(zero_rows, zeros).scatter(blank, nulls)
    lat = lat.scatter(zero_rows, zeros).scatter(blank, nulls)
    return lon, lat


def _point_text(
    loc: _Location, spec: _Spec, build: Callable[[pl.Expr, pl.Expr], pl.Expr]
) -> pl.Series:
    """The text location column ('(lat, lon)', WKT): blank unless a point is published and the
    row keeps its text column (no fallback, or the text-only fallback)."""
    frame = pl.DataFrame(
        {
            "lon": _degrees(loc.lon_e9, spec.decimals),
            "lat": _degrees(loc.lat_e9, spec.decimals),
            "on": ((loc.kind == _LOC_POINT) | (loc.kind == _LOC_OUTSIDE)) & (loc.fallback <= 1),
        }
    )
    return frame.select(pl.when(pl.col("on")).then(build(pl.col("lon"), pl.col("lat")))).to_series()


def _hhmm(t: pl.Series) -> pl.Series:
    """Unpadded 24-hour hhmm ("5" is 00:05)."""
    return (t.dt.hour().cast(pl.Int32) * 100 + t.dt.minute().cast(pl.Int32)).cast(pl.String)


def _zfill(values: np.ndarray | pl.Series, width: int) -> pl.Series:
    return pl.Series(values).cast(pl.String).str.zfill(width)


@dataclass(frozen=True)
class _Ctx:
    """Everything a layout renderer needs, one entry per CSV record."""

    city: SampleCity
    rows: _Rows
    codes: _Codes
    fields: list[pl.Series]  # descriptive columns of slot 0's local code (LOCAL_CODE_FIELDS)
    occurred: pl.Series  # local date-times (defects applied)
    loc: _Location
    spec: _Spec
    rng: np.random.Generator

    @property
    def n(self) -> int:
        return self.rows.report.size

    def report(self, column: str) -> pl.Series:
        return self.city.reports.get_column(column).gather(self.rows.report)

    def per_report(self, values: pl.Series | np.ndarray) -> pl.Series:
        """Values drawn once per report, repeated on each of its rows (victims, offenses)."""
        return pl.Series(values).gather(self.rows.report)

    @property
    def n_reports(self) -> int:
        return self.city.reports.height

    def against(self) -> np.ndarray:
        """NIBRS crime-against of slot 0's offense (PERSON / PROPERTY / SOCIETY)."""
        table = np.array([o.crime_against for o in NIBRS_OFFENSES])
        return table[self.rows.offense[:, 0]]

    def nibrs0(self) -> np.ndarray:
        table = np.array([o.code for o in NIBRS_OFFENSES])
        return table[self.rows.offense[:, 0]]


def _report_ids(reports: pl.DataFrame, group: pl.Series) -> pl.Series:
    """1, 2, 3, ... per report year and group, in report order."""
    frame = pl.DataFrame({"year": reports.get_column("report_year"), "group": group})
    return frame.select(pl.int_range(1, pl.len() + 1).over("year", "group")).to_series()


# --------------------------------------------------------------------------------------------
# LAPD

_LAPD_AREAS = (
    "Central", "Rampart", "Southwest", "Hollenbeck", "Harbor", "Hollywood", "Wilshire",
    "West LA", "Van Nuys", "West Valley", "Northeast", "77th Street", "Newton", "Pacific",
    "N Hollywood", "Foothill", "Devonshire", "Southeast", "Mission", "Olympic", "Topanga",
)  # fmt: skip
_LAPD_MOCODES = (
    "0344", "1822", "0416", "0400", "2000", "0913", "1300", "0329", "1402", "0325", "1609",
    "1307", "0601", "1202", "0385", "1814",
)  # fmt: skip
_LAPD_PREMISES = (
    ("101", "STREET"),
    ("102", "SIDEWALK"),
    ("108", "PARKING LOT"),
    ("501", "SINGLE FAMILY DWELLING"),
    ("502", "MULTI-UNIT DWELLING (APARTMENT, DUPLEX, ETC)"),
    ("203", "OTHER BUSINESS"),
    ("404", "DEPARTMENT STORE"),
    ("122", "VEHICLE, PASSENGER/TRUCK"),
)
_LAPD_WEAPONS = (
    ("400", "STRONG-ARM (HANDS, FIST, FEET OR BODILY FORCE)"),
    ("500", "UNKNOWN WEAPON/OTHER WEAPON"),
    ("102", "HAND GUN"),
    ("200", "KNIFE WITH BLADE 6INCHES OR LESS"),
    ("511", "VERBAL THREAT"),
)
_LAPD_STATUS = (
    ("IC", "Invest Cont"),
    ("AO", "Adult Other"),
    ("AA", "Adult Arrest"),
    ("JA", "Juv Arrest"),
)


def _lapd_location(ctx: _Ctx) -> tuple[pl.Series, pl.Series]:
    """LOCATION ("1200  PINE  ST", runs of spaces as LAPD pads names) and Cross Street."""
    kind, ave, street = ctx.report("block_kind"), ctx.report("ave"), ctx.report("street")
    av, st = ctx.report("ave_name"), ctx.report("street_name")
    frame = pl.DataFrame({"kind": kind, "ave": ave, "street": street, "av": av, "st": st})
    spaced = {name: pl.col(name).str.replace_all(" ", "  ") for name in ("av", "st")}
    location = frame.select(
        pl.when(pl.col("kind") == 0)
        .then(pl.concat_str((pl.col("ave") * 100).cast(pl.String), pl.lit("  "), spaced["st"]))
        .when(pl.col("kind") == 1)
        .then(
            pl.concat_str(
                ((pl.col("street") + 1) * 100).cast(pl.String), pl.lit("  "), spaced["av"]
            )
        )
        .otherwise(spaced["av"])
    ).to_series()
    cross = frame.select(pl.when(pl.col("kind") == 2).then(pl.col("st"))).to_series()
    return location, cross


def _lapd_victims(ctx: _Ctx) -> tuple[pl.Series, pl.Series, pl.Series]:
    rng, n = ctx.rng, ctx.n
    against = ctx.against()
    has_victim = (against == "PERSON") | ((against == "PROPERTY") & (rng.random(n) < 0.6))
    has_victim &= ctx.nibrs0() != "240"  # a stolen car has no victim row in LAPD data
    age = np.where(has_victim, rng.integers(15, 86, size=n), 0)
    sex = _pick(rng, ("M", "F", "X"), n, (0.5, 0.46, 0.04))
    descent = _pick(rng, ("H", "W", "B", "O", "A", "X"), n, (0.4, 0.22, 0.14, 0.12, 0.06, 0.06))
    victim = pl.Series(has_victim)
    return (
        pl.Series(age).cast(pl.String),  # "0" when there is no victim
        pl.select(pl.when(victim).then(sex)).to_series(),
        pl.select(pl.when(victim).then(descent)).to_series(),
    )


def _lapd_mocodes(rng: np.random.Generator, n: int) -> pl.Series:
    count = rng.choice(4, size=n, p=[0.15, 0.35, 0.3, 0.2])
    parts = [
        pl.select(pl.when(pl.Series(count > i)).then(_pick(rng, _LAPD_MOCODES, n))).to_series()
        for i in range(3)
    ]
    return (
        pl.select(pl.concat_str(parts, separator=" ", ignore_nulls=True))
        .to_series()
        .replace("", None)
    )


def _render_lapd(ctx: _Ctx) -> pl.DataFrame:
    rng, n, grid, reports = ctx.rng, ctx.n, ctx.city.grid, ctx.city.reports
    block = _area_blocks(grid, 7, 3)  # 21 LAPD areas
    dist = (block + 1) * 100 + _rank_within(block) % 99 + 1
    area_code = (block + 1)[ctx.report("area").to_numpy()]
    per_report_code = pl.Series((block + 1)[reports.get_column("area").to_numpy()])
    seq = _report_ids(reports, per_report_code)
    dr_no = (
        pl.select(
            pl.concat_str(
                _zfill(reports.get_column("report_year") % 100, 2),
                _zfill(per_report_code, 2),
                _zfill(seq, 5),
            )
        )
        .to_series()
        .gather(ctx.rows.report)
    )
    padded = rng.random(n) < 0.3  # older extracts pad AREA to two digits
    area_text = pl.Series(
        np.where(padded, np.char.zfill(area_code.astype(str), 2), area_code.astype(str))
    )
    midnight = " 12:00:00 AM"
    premise = rng.integers(0, len(_LAPD_PREMISES), size=n)
    weapon = rng.integers(0, len(_LAPD_WEAPONS), size=n)
    armed = pl.Series(ctx.against() == "PERSON")
    status = rng.choice(len(_LAPD_STATUS), size=n, p=[0.78, 0.14, 0.07, 0.01])
    age, sex, descent = _lapd_victims(ctx)
    location, cross = _lapd_location(ctx)
    lon, lat = _lonlat_text(ctx.loc, ctx.spec, rng, zero="0")
    part, desc = ctx.fields
    code = ctx.codes.written
    return pl.DataFrame(
        {
            "DR_NO": dr_no,
            "Date Rptd": ctx.report("reported").dt.strftime("%m/%d/%Y") + midnight,
            "DATE OCC": ctx.occurred.dt.strftime("%m/%d/%Y") + midnight,
            "TIME OCC": _hhmm(ctx.occurred),
            "AREA": area_text,
            "AREA NAME": pl.Series(_LAPD_AREAS).gather(area_code - 1),
            "Rpt Dist No": _zfill(dist[ctx.report("area").to_numpy()], 4),
            "Part 1-2": part,
            "Crm Cd": code[0],
            "Crm Cd Desc": desc,
            "Mocodes": _lapd_mocodes(rng, n),
            "Vict Age": age,
            "Vict Sex": sex,
            "Vict Descent": descent,
            "Premis Cd": pl.Series([p[0] for p in _LAPD_PREMISES]).gather(premise),
            "Premis Desc": pl.Series([p[1] for p in _LAPD_PREMISES]).gather(premise),
            "Weapon Used Cd": pl.select(
                pl.when(armed).then(pl.Series([w[0] for w in _LAPD_WEAPONS]).gather(weapon))
            ).to_series(),
            "Weapon Desc": pl.select(
                pl.when(armed).then(pl.Series([w[1] for w in _LAPD_WEAPONS]).gather(weapon))
            ).to_series(),
            "Status": pl.Series([s[0] for s in _LAPD_STATUS]).gather(status),
            "Status Desc": pl.Series([s[1] for s in _LAPD_STATUS]).gather(status),
            "Crm Cd 1": code[0],
            "Crm Cd 2": code[1],
            "Crm Cd 3": code[2],
            "Crm Cd 4": code[3],
            "LOCATION": location,
            "Cross Street": cross,
            "LAT": lat,
            "LON": lon,
        }
    )


# --------------------------------------------------------------------------------------------
# Chicago

_CHICAGO_DISTRICTS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16, 17, 18, 19, 20, 22, 24, 25)
_CHICAGO_PLACES = (
    "STREET", "RESIDENCE", "APARTMENT", "SIDEWALK", "PARKING LOT / GARAGE (NON RESIDENTIAL)",
    "SMALL RETAIL STORE", "RESTAURANT", "DEPARTMENT STORE", "ALLEY", "VEHICLE NON-COMMERCIAL",
    "OTHER (SPECIFY)",
)  # fmt: skip
_CHICAGO_PLACE_WEIGHTS = (0.26, 0.16, 0.14, 0.08, 0.06, 0.06, 0.05, 0.04, 0.04, 0.04, 0.03)
# Offenses mostly discovered by an arrest (narcotics, weapons, prostitution, public order).
_ARREST_PRONE = frozenset({"35A", "35B", "40A", "40B", "520", "90C", "90D", "90E", "90G", "90J"})


def _case_prefix(year: pl.Series) -> pl.Series:
    """CPD case numbers: 'J' plus a letter per year ('JG' 2023, 'JH' 2024, ...; no I or O)."""
    letters = np.array(list("ABCDEFGHJKLMNPQRSTUVWXYZ"))
    return pl.Series("J" + letters[(year.to_numpy() - 2017) % letters.size].astype(object))


def _chicago_block(ctx: _Ctx) -> pl.Series:
    """'012XX W PINE ST': zero-padded hundred block, direction, street."""
    frame = pl.DataFrame(
        {
            "kind": ctx.report("block_kind"),
            "ave": ctx.report("ave"),
            "street": ctx.report("street"),
            "av": ctx.report("ave_name"),
            "st": ctx.report("street_name"),
        }
    )
    # Directions are counted from the city centre (streets are 200 m apart, see sample_city).
    width, height = ctx.city.grid.size_xy
    mid_ave, mid_street = width / 400 + 1, height / 400
    on_street = pl.col("kind") == 0
    hundreds = pl.when(on_street).then(pl.col("ave")).otherwise(pl.col("street") + 1)
    direction = (
        pl.when(on_street)
        .then(pl.when(pl.col("ave") < mid_ave).then(pl.lit(" W ")).otherwise(pl.lit(" E ")))
        .otherwise(
            pl.when(pl.col("street") < mid_street).then(pl.lit(" S ")).otherwise(pl.lit(" N "))
        )
    )
    name = pl.when(on_street).then(pl.col("st")).otherwise(pl.col("av"))
    return frame.select(
        pl.concat_str(hundreds.cast(pl.String).str.zfill(3), pl.lit("XX"), direction, name)
    ).to_series()


def _state_plane_text(loc: _Location) -> tuple[pl.Series, pl.Series]:
    """X/Y Coordinate: integer US feet; blank where no point is published or only the
    text column is."""
    x, y = _to_state_plane().transform(loc.lon_e9 / 1e9, loc.lat_e9 / 1e9)
    on = ((loc.kind == _LOC_POINT) | (loc.kind == _LOC_OUTSIDE)) & (loc.fallback != 1)
    frame = pl.DataFrame({"x": np.round(x), "y": np.round(y), "on": on})
    return (
        frame.select(
            pl.when(pl.col("on")).then(pl.col("x").cast(pl.Int64).cast(pl.String))
        ).to_series(),
        frame.select(
            pl.when(pl.col("on")).then(pl.col("y").cast(pl.Int64).cast(pl.String))
        ).to_series(),
    )


def _render_chicago(ctx: _Ctx) -> pl.DataFrame:
    rng, n, grid = ctx.rng, ctx.n, ctx.city.grid
    area = ctx.report("area").to_numpy()
    block = _area_blocks(grid, 6, 4)
    district = np.array(_CHICAGO_DISTRICTS)[block % len(_CHICAGO_DISTRICTS)]
    sector = _rank_within(block) // 4 % 3 + 1
    beat_no = district * 100 + sector * 10 + _rank_within(block) % 4 + 1
    beat = _zfill(beat_no[area], 4)
    short = _some(np.flatnonzero(beat.str.starts_with("0").to_numpy()), _UNPADDED_SHARE, rng)
    beat = beat.scatter(short, beat.gather(short).str.slice(1))
    reports = ctx.city.reports
    case = (
        pl.select(
            pl.concat_str(
                _case_prefix(reports.get_column("report_year")),
                _zfill(reports.get_column("report_seq") % 1_000_000, 6),
            )
        )
        .to_series()
        .gather(ctx.rows.report)
    )
    ids = 13_400_000 + np.cumsum(rng.integers(1, 4, size=n))
    nibrs = ctx.nibrs0()
    # Case attributes are drawn per report: the victims of one homicide share them.
    draw = ctx.per_report(rng.random(ctx.n_reports)).to_numpy()
    arrest = draw < np.where(np.isin(nibrs, list(_ARREST_PRONE)), 0.85, 0.1)
    domestic_share = np.where(ctx.against() == "PERSON", 0.2, np.where(nibrs == "90F", 0.5, 0.02))
    draw = ctx.per_report(rng.random(ctx.n_reports)).to_numpy()
    domestic = (ctx.codes.full[0] == "0486").to_numpy() | (draw < domestic_share)
    lon, lat = _lonlat_text(ctx.loc, ctx.spec, rng, zero=None)
    x, y = _state_plane_text(ctx.loc)
    updated = ctx.report("reported") + ctx.per_report(
        rng.integers(86_400, 60 * 86_400, size=ctx.n_reports) * 1_000_000
    ).cast(pl.Duration("us"))
    primary, description, fbi = ctx.fields
    return pl.DataFrame(
        {
            "ID": pl.Series(ids).cast(pl.String),
            "Case Number": case,
            "Date": ctx.occurred.dt.strftime(_US_FORMAT),
            "Block": _chicago_block(ctx),
            "IUCR": ctx.codes.written[0],
            "Primary Type": primary,
            "Description": description,
            "Location Description": ctx.per_report(
                _pick(rng, _CHICAGO_PLACES, ctx.n_reports, _CHICAGO_PLACE_WEIGHTS)
            ),
            "Arrest": pl.Series(arrest).cast(pl.String).str.to_lowercase(),
            "Domestic": pl.Series(domestic).cast(pl.String).str.to_lowercase(),
            "Beat": beat,
            "District": _zfill(district[area], 3),
            "Ward": pl.Series((area * 7) % 50 + 1).cast(pl.String),
            "Community Area": pl.Series((area * 11) % 77 + 1).cast(pl.String),
            "FBI Code": fbi,
            "X Coordinate": x,
            "Y Coordinate": y,
            "Year": ctx.occurred.dt.year().cast(pl.String),
            "Updated On": updated.dt.strftime(_US_FORMAT),
            "Latitude": lat,
            "Longitude": lon,
            "Location": _point_text(
                ctx.loc,
                ctx.spec,
                lambda lo, la: pl.concat_str(pl.lit("("), la, pl.lit(", "), lo, pl.lit(")")),
            ),
        }
    )


# --------------------------------------------------------------------------------------------
# SFPD

_SF_DISTRICTS = (
    "Central", "Northern", "Park", "Richmond", "Taraval", "Ingleside", "Bayview", "Mission",
    "Southern", "Tenderloin",
)  # fmt: skip
_SF_REPORT_TYPES = (
    ("II", "Initial", ""),
    ("IS", "Initial Supplement", ""),
    ("II", "Coplogic Initial", "true"),
)
_SF_RESOLUTIONS = ("Open or Active", "Cite or Arrest Adult", "Unfounded", "Exceptional Adult")


def _sfpd_intersection(ctx: _Ctx) -> pl.Series:
    """'PINE ST \\ 3RD AVE': SFPD maps every incident to its nearest intersection, names in
    alphabetical order."""
    frame = pl.DataFrame({"a": ctx.report("street_name"), "b": ctx.report("ave_name")})
    first = pl.when(pl.col("a") < pl.col("b")).then(pl.col("a")).otherwise(pl.col("b"))
    second = pl.when(pl.col("a") < pl.col("b")).then(pl.col("b")).otherwise(pl.col("a"))
    return frame.select(pl.concat_str(first, pl.lit(" \\ "), second)).to_series()


def _render_sfpd(ctx: _Ctx) -> pl.DataFrame:
    rng, grid, reports = ctx.rng, ctx.city.grid, ctx.city.reports
    area = ctx.report("area").to_numpy()
    block = _area_blocks(grid, 5, 2)
    outside = pl.Series(ctx.loc.kind == _LOC_OUTSIDE)
    n_reports = reports.height
    incident_id = pl.Series(1_300_000 + np.cumsum(rng.integers(1, 4, size=n_reports)))
    year2 = _zfill(reports.get_column("report_year") % 100, 2)
    number = pl.select(
        pl.concat_str(year2, _zfill(reports.get_column("report_seq") % 10_000_000, 7))
    ).to_series()
    cad = pl.select(
        pl.when(pl.Series(rng.random(n_reports) < 0.75)).then(
            pl.concat_str(year2, _zfill(rng.integers(0, 10_000_000, size=n_reports), 7))
        )
    ).to_series()
    report_type = rng.choice(len(_SF_REPORT_TYPES), size=n_reports, p=[0.72, 0.13, 0.15])
    per_report = pl.DataFrame(
        {
            "Incident ID": incident_id.cast(pl.String),
            "Incident Number": number,
            "CAD Number": cad,
            "Report Type Code": pl.Series([t[0] for t in _SF_REPORT_TYPES]).gather(report_type),
            "Report Type Description": pl.Series([t[1] for t in _SF_REPORT_TYPES]).gather(
                report_type
            ),
            "Filed Online": pl.Series([t[2] for t in _SF_REPORT_TYPES])
            .gather(report_type)
            .replace("", None),
            "Resolution": _pick(rng, _SF_RESOLUTIONS, n_reports, (0.8, 0.15, 0.02, 0.03)),
        }
    )[ctx.rows.report]
    vehicle = pl.Series(ctx.nibrs0() == "240")  # stolen-vehicle reports are Vehicle reports
    per_report = per_report.with_columns(
        pl.when(vehicle)
        .then(pl.lit("VI"))
        .otherwise(pl.col("Report Type Code"))
        .alias("Report Type Code"),
        pl.when(vehicle)
        .then(pl.lit("Vehicle Initial"))
        .otherwise(pl.col("Report Type Description"))
        .alias("Report Type Description"),
    )
    lon, lat = _lonlat_text(ctx.loc, ctx.spec, rng, zero=None)
    neighborhood = pl.Series([m.title() for m in MCPP_NAMES]).gather(area % len(MCPP_NAMES))
    cnn = 20_000_000 + ctx.report("street").to_numpy() * 10_000 + ctx.report("ave").to_numpy() * 10
    category, subcategory, description = ctx.fields
    fmt = "%Y/%m/%d %I:%M:%S %p"
    return pl.DataFrame(
        {
            "Incident Datetime": ctx.occurred.dt.strftime(fmt),
            "Incident Date": ctx.occurred.dt.strftime("%Y/%m/%d"),
            "Incident Time": ctx.occurred.dt.strftime("%H:%M"),
            "Incident Year": ctx.occurred.dt.year().cast(pl.String),
            "Incident Day of Week": ctx.occurred.dt.strftime("%A"),
            "Report Datetime": ctx.report("reported").dt.strftime(fmt),
            "Row ID": per_report.get_column("Incident ID") + ctx.codes.full[0],
            "Incident ID": per_report.get_column("Incident ID"),
            "Incident Number": per_report.get_column("Incident Number"),
            "CAD Number": per_report.get_column("CAD Number"),
            "Report Type Code": per_report.get_column("Report Type Code"),
            "Report Type Description": per_report.get_column("Report Type Description"),
            "Filed Online": per_report.get_column("Filed Online"),
            "Incident Code": ctx.codes.written[0],
            "Incident Category": category,
            "Incident Subcategory": subcategory,
            "Incident Description": description,
            "Resolution": per_report.get_column("Resolution"),
            "Intersection": _sfpd_intersection(ctx),
            "CNN": pl.Series(cnn).cast(pl.String),
            "Police District": pl.select(
                pl.when(outside)
                .then(pl.lit("Out of SF"))
                .otherwise(pl.Series(_SF_DISTRICTS).gather(block[area] % len(_SF_DISTRICTS)))
            ).to_series(),
            "Analysis Neighborhood": pl.select(pl.when(~outside).then(neighborhood)).to_series(),
            "Supervisor District": pl.select(
                pl.when(~outside).then(pl.Series((area * 5) % 11 + 1).cast(pl.String))
            ).to_series(),
            "Latitude": lat,
            "Longitude": lon,
            "point": _point_text(
                ctx.loc,
                ctx.spec,
                lambda lo, la: pl.concat_str(pl.lit("POINT ("), lo, pl.lit(" "), la, pl.lit(")")),
            ),
        }
    )


# --------------------------------------------------------------------------------------------
# Baltimore

_BALTIMORE_DISTRICTS = (
    "CENTRAL", "SOUTHEASTERN", "EASTERN", "NORTHEASTERN", "NORTHERN", "NORTHWESTERN", "WESTERN",
    "SOUTHWESTERN", "SOUTHERN",
)  # fmt: skip
# The NIBRS-era feed abbreviates district names.
_BALTIMORE_NEW_DISTRICTS = (
    "CENTRAL", "SOUTHEAST", "EASTERN", "NORTHEAST", "NORTHERN", "NORTHWEST", "WESTERN",
    "SOUTHWEST", "SOUTHERN",
)  # fmt: skip
_BALTIMORE_PREMISES = (
    "STREET", "ROW/TOWNHOUSE-OCC", "PARKING LOT-OUTSIDE", "OTHER - INSIDE", "APT/CONDO - OCCUPIED",
    "RETAIL/SMALL BUSINESS", "ALLEY", "GROCERY/CONFECTION", "SINGLE HOUSE", "OTHER - OUTSIDE",
)  # fmt: skip
_BALTIMORE_PREMISE_WEIGHTS = (0.35, 0.2, 0.08, 0.07, 0.07, 0.06, 0.05, 0.04, 0.04, 0.04)
_RACES = (
    "BLACK_OR_AFRICAN_AMERICAN", "WHITE", "ASIAN", "AMERICAN_INDIAN_OR_ALASKA_NATIVE", "UNKNOWN",
)  # fmt: skip
_ETHNICITIES = ("NOT_HISPANIC_OR_LATINO", "HISPANIC_OR_LATINO", "UNKNOWN")


def _baltimore_address(ctx: _Ctx) -> pl.Series:
    """'1200 PINE ST', or '3RD AVE & PINE ST' at an intersection."""
    frame = pl.DataFrame(
        {
            "kind": ctx.report("block_kind"),
            "ave": ctx.report("ave"),
            "street": ctx.report("street"),
            "av": ctx.report("ave_name"),
            "st": ctx.report("street_name"),
        }
    )
    return frame.select(
        pl.when(pl.col("kind") == 0)
        .then(pl.concat_str((pl.col("ave") * 100).cast(pl.String), pl.lit(" "), pl.col("st")))
        .when(pl.col("kind") == 1)
        .then(
            pl.concat_str(((pl.col("street") + 1) * 100).cast(pl.String), pl.lit(" "), pl.col("av"))
        )
        .otherwise(pl.concat_str(pl.col("av"), pl.lit(" & "), pl.col("st")))
    ).to_series()


def _baltimore_geography(ctx: _Ctx) -> dict[str, np.ndarray | pl.Series]:
    area = ctx.report("area").to_numpy()
    block = _area_blocks(ctx.city.grid, 3, 3)
    post = (block + 1) * 100 + _rank_within(block) % 40 + 11
    return {
        "area": area,
        "district": block[area] % len(_BALTIMORE_DISTRICTS),
        "post": post[area],
        "neighborhood": pl.Series(MCPP_NAMES).gather(area % len(MCPP_NAMES)),
    }


def _render_baltimore_legacy(ctx: _Ctx) -> pl.DataFrame:
    rng, n = ctx.rng, ctx.n
    geo = _baltimore_geography(ctx)
    post = pl.Series(geo["post"]).cast(pl.String)
    padded = _some(np.arange(n), 0.1, rng)  # some extracts pad Post to four digits
    post = post.scatter(padded, post.gather(padded).str.zfill(4))
    # CrimeTime: "HH:MM:SS" in some rows, an unpadded hhmm in others.
    clock = pl.Series(rng.random(n) < 0.6)
    time = pl.select(
        pl.when(clock).then(ctx.occurred.dt.strftime("%H:%M:%S")).otherwise(_hhmm(ctx.occurred))
    ).to_series()
    lon, lat = _lonlat_text(ctx.loc, ctx.spec, rng, zero=None)
    description, weapon = ctx.fields
    return pl.DataFrame(
        {
            "CrimeDate": ctx.occurred.dt.strftime("%m/%d/%Y"),
            "CrimeTime": time,
            "CrimeCode": ctx.codes.written[0],
            "Location": _baltimore_address(ctx),
            "Description": description,
            "Inside/Outside": ctx.per_report(_pick(rng, ("I", "O"), ctx.n_reports)),
            "Weapon": weapon,
            "Post": post,
            "District": pl.Series(_BALTIMORE_DISTRICTS).gather(geo["district"]),
            "Neighborhood": geo["neighborhood"],
            "Longitude": lon,
            "Latitude": lat,
            "Location 1": _point_text(
                ctx.loc,
                ctx.spec,
                lambda lo, la: pl.concat_str(pl.lit("("), la, pl.lit(", "), lo, pl.lit(")")),
            ),
            "Premise": ctx.per_report(
                _pick(rng, _BALTIMORE_PREMISES, ctx.n_reports, _BALTIMORE_PREMISE_WEIGHTS)
            ),
            "Total Incidents": pl.Series(["1"] * n, dtype=pl.String),
        }
    )


def _render_baltimore_nibrs(ctx: _Ctx) -> pl.DataFrame:
    rng, n, reports = ctx.rng, ctx.n, ctx.city.reports
    geo = _baltimore_geography(ctx)
    month = reports.get_column("reported").dt.month().to_numpy()
    cc = (
        pl.select(
            pl.concat_str(
                _zfill(reports.get_column("report_year") % 100, 2),
                pl.Series(np.array(list("ABCDEFGHIJKL"))[month - 1]),
                _zfill(reports.get_column("report_seq") % 1_000_000, 6),
            )
        )
        .to_series()
        .gather(ctx.rows.report)
    )
    utc = (
        ctx.occurred.dt.replace_time_zone(SAMPLE_CITY_TIMEZONE, ambiguous="earliest")
        .dt.convert_time_zone("UTC")
        .dt.strftime("%Y/%m/%d %H:%M:%S+00")
    )
    person = pl.Series(ctx.against() == "PERSON")
    age = pl.Series(rng.integers(12, 86, size=n)).cast(pl.String)
    lon, lat = _lonlat_text(ctx.loc, ctx.spec, rng, zero=None)
    description, weapon = ctx.fields
    district = pl.Series(_BALTIMORE_NEW_DISTRICTS).gather(geo["district"])
    return pl.DataFrame(
        {
            "RowID": pl.Series(np.arange(1, n + 1)).cast(pl.String),
            "CCNumber": cc,
            "CrimeDateTime": utc,
            "CrimeCode": ctx.codes.written[0],
            "Description": description,
            "Inside_Outside": ctx.per_report(_pick(rng, ("I", "O"), ctx.n_reports)),
            "Weapon": weapon,
            "Post": pl.Series(geo["post"]).cast(pl.String),
            "Gender": _pick(rng, ("M", "F", "U"), n, (0.5, 0.45, 0.05)),
            "Age": pl.select(pl.when(person).then(age)).to_series(),
            "Race": _pick(rng, _RACES, n, (0.6, 0.3, 0.03, 0.01, 0.06)),
            "Ethnicity": _pick(rng, _ETHNICITIES, n, (0.85, 0.08, 0.07)),
            "Location": _baltimore_address(ctx),
            "Old_District": district,
            "New_District": district,
            "Neighborhood": pl.Series(geo["neighborhood"]).str.to_titlecase(),
            "Latitude": lat,
            "Longitude": lon,
            "GeoLocation": _point_text(
                ctx.loc,
                ctx.spec,
                lambda lo, la: pl.concat_str(pl.lit("("), la, pl.lit(","), lo, pl.lit(")")),
            ),
            "PremiseType": ctx.per_report(
                _pick(rng, _BALTIMORE_PREMISES, ctx.n_reports, _BALTIMORE_PREMISE_WEIGHTS)
            ),
            "Total_Incidents": pl.Series(["1"] * n, dtype=pl.String),
        }
    )


_RENDERERS: dict[str, Callable[[_Ctx], pl.DataFrame]] = {
    "lapd": _render_lapd,
    "chicago": _render_chicago,
    "sfpd": _render_sfpd,
    "baltimore_legacy": _render_baltimore_legacy,
    "baltimore_nibrs": _render_baltimore_nibrs,
}
_FALLBACK_MODES = {"chicago": 2, "sfpd": 1, "baltimore_legacy": 1, "baltimore_nibrs": 1}


# --------------------------------------------------------------------------------------------
# One layout, end to end


@dataclass(frozen=True)
class _Rendered:
    frame: pl.DataFrame  # the published columns (names as the layout YAML lists them)
    truth_rows: pl.DataFrame
    truth_offenses: pl.DataFrame
    notes: dict[str, str]
    extra_counts: dict[str, int]


def _layout_rng(config: SampleCityConfig, layout: str) -> np.random.Generator:
    # Each layout has its own stream of the seed: rendering one never moves another's draws.
    key = zlib.crc32(layout.encode())
    return np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(1_000, key)))


def _slot_fields(rows: _Rows, codes: tuple[LocalCode, ...], n_fields: int) -> list[pl.Series]:
    entry = np.clip(rows.entry[:, 0], 0, None)
    return [
        pl.Series([c.fields[i] or None for c in codes], dtype=pl.String).gather(entry)
        for i in range(n_fields)
    ]


def _blank_keys(
    frame: pl.DataFrame, rows: np.ndarray, keys: tuple[str, ...], rng: np.random.Generator
) -> pl.DataFrame:
    """missing_key: one of the layout's id columns left blank."""
    which = rng.integers(0, len(keys), size=rows.size)
    columns = []
    for i, key in enumerate(keys):
        hit = rows[which == i]
        columns.append(
            frame.get_column(key).scatter(hit, pl.Series([None] * hit.size, dtype=pl.String))
        )
    return frame.with_columns(columns)


def _garble_dates(
    frame: pl.DataFrame, rows: np.ndarray, column: str, spec: _Spec, rng: np.random.Generator
) -> pl.DataFrame:
    bad = np.array(spec.bad_dates)[rng.integers(0, len(spec.bad_dates), rows.size)]
    garbled = frame.get_column(column).scatter(rows, pl.Series(bad.tolist(), dtype=pl.String))
    return frame.with_columns(garbled)


def _location_truth(city: SampleCity, loc: _Location) -> tuple[np.ndarray, np.ndarray]:
    """Area index (-1 none) and on-edge flag of the location the pipeline will read."""
    area = np.full(loc.kind.size, -1, dtype=np.int64)
    on_edge = np.zeros(loc.kind.size, dtype=bool)
    usable = loc.kind == _LOC_POINT
    lonlat = np.flatnonzero(usable & (loc.fallback != 2))
    area[lonlat], on_edge[lonlat] = _area_truth(
        city.grid, loc.lon_e9[lonlat] / 1e9, loc.lat_e9[lonlat] / 1e9
    )
    # Projected fallback: the point is what integer State Plane feet bring back.
    projected = np.flatnonzero(usable & (loc.fallback == 2))
    x, y = _to_state_plane().transform(loc.lon_e9[projected] / 1e9, loc.lat_e9[projected] / 1e9)
    back = Transformer.from_crs(STATE_PLANE_CRS, "EPSG:4326", always_xy=True)
    lon, lat = back.transform(np.round(x), np.round(y))
    area[projected], on_edge[projected] = _area_truth(
        city.grid, np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    )
    return area, on_edge


def _truth_rows(
    city: SampleCity,
    frame: pl.DataFrame,
    layout: PoliceLayout,
    plan: _Plan,
    rows: _Rows,
    loc: _Location,
) -> pl.DataFrame:
    area, on_edge = _location_truth(city, loc)
    hot = np.where(area >= 0, city.reports.get_column("hotspot").to_numpy()[rows.report], -1)
    area, on_edge, hot = area[plan.source], on_edge[plan.source], hot[plan.source]
    n = frame.height
    if layout.report_number is None:
        report_number = pl.Series([None] * n, dtype=pl.String)
    else:
        report_number = frame.get_column(layout.report_number).str.strip_chars().replace("", None)
    hot_ids = city.hotspot_ids().extend(pl.Series([None], dtype=pl.String))
    return pl.DataFrame(
        {
            "row_number": pl.Series(np.arange(1, n + 1), dtype=pl.Int64),
            "defect": pl.Series((*PUBLISHER_DEFECT_REASONS, None), dtype=pl.String).gather(
                np.where(plan.defect >= 0, plan.defect, len(PUBLISHER_DEFECT_REASONS))
            ),
            "report_number": report_number,
            "area_id": city.area_ids()
            .extend(pl.Series([None], dtype=pl.String))
            .gather(np.where(area >= 0, area, city.grid.n_areas)),
            "hotspot_id": hot_ids.gather(np.where(hot >= 0, hot, len(city.hotspots))),
            "on_edge": pl.Series(on_edge, dtype=pl.Boolean),
        }
    )


def _truth_offenses(
    frame: pl.DataFrame, layout: PoliceLayout, plan: _Plan, codes: _Codes
) -> pl.DataFrame:
    """Offenses of clean rows and of kept rows whose only defect is an unknown code."""
    unknown = PUBLISHER_DEFECT_REASONS.index("offense_code_unknown")
    keep = pl.Series((plan.defect < 0) | (plan.defect == unknown))
    row_number = pl.Series(np.arange(1, frame.height + 1), dtype=pl.Int64)
    parts = [
        pl.DataFrame(
            {
                "row_number": row_number,
                "offense_seq": pl.Series([slot + 1] * frame.height, dtype=pl.Int64),
                "local_code": frame.get_column(column),
                "nibrs_code": codes.nibrs[slot],
            }
        ).filter(keep & frame.get_column(column).is_not_null())
        for slot, column in enumerate(layout.offense_codes)
    ]
    return pl.concat(parts).sort("row_number", "offense_seq")


def _render_layout(city: SampleCity, name: str) -> _Rendered:
    layout, spec, codes = builtin_layout(name), _SPECS[name], LOCAL_CODES[name]
    rng = _layout_rng(city.config, name)
    published = _published_offenses(city, codes, rng)
    rows = _build_rows(name, published, rng, len(layout.offense_codes))
    plan = _plan_defects(rows.report.size, spec.reasons, city.config.defect_rate, rng)
    times = city.reports.get_column("occurred").to_numpy()[rows.report]
    loc = _locations(city, rows, plan, spec, rng)
    loc = _with_fallbacks(loc, plan, _FALLBACK_MODES.get(name, 0), rng)
    code_info = _codes(rows, codes, plan, spec, rng)
    ctx = _Ctx(
        city=city,
        rows=rows,
        codes=code_info,
        fields=_slot_fields(rows, codes, len(LOCAL_CODE_FIELDS[name])),
        occurred=pl.Series(_occurred(times, plan, rng)),
        loc=loc,
        spec=spec,
        rng=rng,
    )
    frame = _RENDERERS[name](ctx)
    if tuple(frame.columns) != layout.columns:
        raise AssertionError(f"{name}: rendered columns differ from the layout's")
    frame = _garble_dates(frame, plan.at("date_unparseable"), layout.occurred.column, spec, rng)
    keys = tuple(dict.fromkeys(k for k in (layout.record_id, layout.report_number) if k))
    if keys:
        frame = _blank_keys(frame, plan.at("missing_key"), keys, rng)
    multiline = multiline_row_positions(plan.defect, np.zeros(0, dtype=np.int64), rng)
    frame = frame.with_columns(embed_newlines(frame.get_column(spec.text), multiline))
    frame = frame[plan.source]  # planted duplicates: exact copies of earlier clean rows

    n_published = published.height
    return _Rendered(
        frame=frame,
        truth_rows=_truth_rows(city, frame, layout, plan, rows, loc),
        truth_offenses=_truth_offenses(frame, layout, plan, code_info),
        notes=_NOTES[name],
        extra_counts={
            "offenses_published": n_published,
            "offenses_not_published": city.offenses.height - n_published,
            "reports_published": int(np.unique(rows.report).size),
            "multiline_rows": int(multiline.size),
        },
    )


def _render_seattle(city: SampleCity) -> _Rendered:
    export = seattle_spd_export(city)
    frame = export.frame
    report_number = frame.get_column("Report Number").str.strip_chars().replace("", None)
    truth_rows = export.truth.with_columns(report_number.alias("report_number")).select(
        "row_number", "defect", "report_number", "area_id", "hotspot_id", "on_edge"
    )
    defect = truth_rows.get_column("defect")
    keep = defect.is_null() | (defect == "offense_code_unknown")
    code = frame.get_column("Offense Code")
    offenses = pl.DataFrame(
        {
            "row_number": truth_rows.get_column("row_number"),
            "offense_seq": pl.Series([1] * frame.height, dtype=pl.Int64),
            "local_code": code,
            "nibrs_code": pl.select(pl.when(defect.is_null()).then(code)).to_series(),
        }
    ).filter(keep)
    return _Rendered(
        frame=frame,
        truth_rows=truth_rows,
        truth_offenses=offenses,
        notes=_NOTES["seattle_spd"],
        extra_counts={
            "offenses_published": city.offenses.height,
            "offenses_not_published": 0,
            "reports_published": city.reports.height,
            "multiline_rows": int(frame.get_column("100 Block Address").str.contains("\n").sum()),
        },
    )


# --------------------------------------------------------------------------------------------
# Files


def _not_published(name: str) -> list[str]:
    drawn = {c.nibrs_code for c in LOCAL_CODES[name]}
    return [o.code for o in NIBRS_OFFENSES if o.code not in drawn]


def truth_document(city: SampleCity, name: str, rendered: _Rendered) -> dict[str, Any]:
    rows, offenses = rendered.truth_rows, rendered.truth_offenses
    clean = rows.filter(pl.col("defect").is_null())
    reasons = DEFECT_REASONS if name == "seattle_spd" else _SPECS[name].reasons
    by_reason = dict(rows.get_column("defect").drop_nulls().value_counts().iter_rows())
    by_nibrs = dict(offenses.get_column("nibrs_code").drop_nulls().value_counts().iter_rows())
    layout = builtin_layout(name)
    incidents = (
        clean.height
        if layout.report_number is None
        else clean.get_column("report_number").drop_nulls().n_unique()
    )
    config = {
        k: (v.isoformat() if isinstance(v, date) else v)
        for k, v in dataclasses.asdict(city.config).items()
    }
    return {
        "generator": "crimemap.samplecity.publishers",
        "layout": name,
        "agency": layout.agency,
        "seed": city.config.seed,
        "config": config,
        "crs": SAMPLE_CITY_CRS,
        "timezone": SAMPLE_CITY_TIMEZONE,
        "projected_crs": STATE_PLANE_CRS if name == "chicago" else None,
        "files": {
            "csv": f"{name}.csv",
            "truth_rows": f"{name}_truth_rows.parquet",
            "truth_offenses": f"{name}_truth_offenses.parquet",
        },
        "counts": {
            "rows": rows.height,
            "clean_rows": clean.height,
            "defect_rows": rows.height - clean.height,
            "offenses": offenses.height,
            "offenses_unknown_code": int(offenses.get_column("nibrs_code").is_null().sum()),
            "incidents_clean": int(incidents),
            "reports": city.reports.height,
            "offenses_generated": city.offenses.height,
            **rendered.extra_counts,
        },
        "defects": {r: int(by_reason.get(r, 0)) for r in reasons},
        "offenses_by_nibrs": {code: int(by_nibrs[code]) for code in sorted(by_nibrs)},
        "not_published": {
            "nibrs_codes": _not_published(name),
            "note": rendered.notes.get("dropped", "nothing: every generated offense is published"),
        },
        "notes": {**_NOTES_COMMON, **rendered.notes},
    }


def _write_csv(frame: pl.DataFrame, path: Path, name: str) -> None:
    spec = _SPECS.get(name)
    header = spec.header if spec else {}
    out = frame.rename(header) if header else frame
    bom = bool(spec and spec.bom)
    write_atomic(path, lambda tmp: out.write_csv(tmp, include_bom=bom))


def _write_sample(city: SampleCity, name: str, out_dir: Path) -> PublisherSample:
    rendered = _render_seattle(city) if name == "seattle_spd" else _render_layout(city, name)
    files = PublisherSample(
        csv=out_dir / f"{name}.csv",
        truth_rows=out_dir / f"{name}_truth_rows.parquet",
        truth_offenses=out_dir / f"{name}_truth_offenses.parquet",
        truth_json=out_dir / f"{name}_truth.json",
    )
    _write_csv(rendered.frame, files.csv, name)
    for path, table in (
        (files.truth_rows, rendered.truth_rows),
        (files.truth_offenses, rendered.truth_offenses),
    ):
        write_parquet(path, table)
    document = truth_document(city, name, rendered)
    write_text(files.truth_json, json.dumps(document, indent=2) + "\n")
    return files


def _check_layout(layout: str) -> None:
    if layout not in PUBLISHER_LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; one of {', '.join(PUBLISHER_LAYOUTS)}")


def render_publisher_sample(
    layout: str, out_dir: Path, config: SampleCityConfig = _DEFAULT_CONFIG
) -> PublisherSample:
    """Write the sample city's police export in `layout`, with its truth, into `out_dir`."""
    _check_layout(layout)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return _write_sample(build_sample_city(config), layout, out_dir)


def render_publisher_samples(
    out_dir: Path,
    config: SampleCityConfig = _DEFAULT_CONFIG,
    layouts: Sequence[str] = PUBLISHER_LAYOUTS,
) -> dict[str, PublisherSample]:
    """Several layouts of one city (drawn once); same files as one call per layout."""
    for layout in layouts:
        _check_layout(layout)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    city = build_sample_city(config)
    return {layout: _write_sample(city, layout, out_dir) for layout in layouts}
