"""The five real-world fixture programs (fixtures/programs/), their data, and their outcomes.

For every program:
  (a) the program file loads and says what the article says;
  (b) the pure scoring module, fed the fixture CSVs, gives the hand-computed outcome of every
      partner in every period (score, qualified, earned, event, at risk, badges);
  (c) the same outcomes come out of the command line: program load, three imports, level,
      export scorecards.

Every expected number below is worked out by hand from the program rules (spec §3) in the
comment next to it. Periods end on their last day: 2014-Q3 ends 2014-09-30, 2024-02 ends
2024-02-29, 2016 ends 2016-12-31. "no grace" / "grace n" shows the `below` counter.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from tiertui.cli import main
from tiertui.scoring import Certifications, Inputs, Partners, level, parse_period, parse_program
from tiertui.scoring.evaluate import EVENTS, NEVER

PROGRAMS = Path(__file__).resolve().parents[2] / "fixtures" / "programs"


@dataclass(frozen=True)
class Expect:
    score: float
    qualified: str
    earned: str
    event: str
    at_risk: bool
    badges: tuple[str, ...] = ()


E = Expect
OE = ("Operational Excellence",)
CSL = ("Customer Satisfaction Leader",)
CSC = ("Customer Success Champion",)
LL = ("Launch Leader",)

# ----------------------------------------------------------------------------------- Mitel
# Score = revenue 30 pts @ 500,000 + ops_score 40 @ 100 + business_plan 15 @ 1 + demo_systems 15 @ 2.
# Silver: score>=40, installation>=1, sales>=1 (Cloud: installation>=0, cloud>=1)
# Gold: score>=60, installation>=2, maintenance>=1, sales>=1, demo>=1
#       (Cloud: score>=55, installation>=0, maintenance>=0, cloud>=2; sales and demo stay)
# Platinum: score>=80, installation>=3, maintenance>=2, sales>=2, demo>=2, business_plan>=1
# grace 1, margin 10% (a gate g is close when value < 1.1 g: any gate met exactly is "at risk").
MITEL = {
    # M1 Northwind (Gold on record) + subsidiary M2. Group people: installation {Ann, Bob, Chloé}
    # = 3 ("ann lee " at M2 is Ann: counted once); maintenance {Bob} = 1, {Bob, Chloé} = 2 from
    # 2014-11-15; sales {Ann} = 1, {Ann, Dev} = 2 from 2014-12-01.
    ("M1", "2014-Q3"): E(72.5, "Gold", "Gold", "held", True),
    # revenue 250k+50k=300k: 30*0.6=18; ops 80: 32; plan 1: 15; demo 1+0=1: 7.5 -> 72.5
    # Platinum fails (72.5<80); Gold met; at risk: maintenance 1 < 1.1
    ("M1", "2014-Q4"): E(96.8, "Platinum", "Platinum", "promoted", True, OE),
    # revenue 400k+150k=550k: 30 (capped); ops 92: 36.8; plan 15; demo 1+1=2: 15 -> 96.8
    # Platinum: installation 3>=3, maintenance 2>=2, sales 2>=2, demo 2, plan 1 -> promoted
    # at risk: installation 3 < 3.3; badge: ops 92 >= 90
    ("M1", "2015-Q1"): E(98.0, "Platinum", "Platinum", "held", True, OE),
    # revenue 450k+100k: 30; ops 95: 38; plan 15; demo 2: 15 -> 98; installation 3 < 3.3
    # M2 Northwind Ottawa (Authorized): own installation {Ann, Chloé} = 2.
    ("M2", "2014-Q3"): E(31.0, "Authorized", "Authorized", "held", False),
    # revenue 50k: 3; ops 70: 28; plan 0; demo 0 -> 31 < 40: no Silver
    ("M2", "2014-Q4"): E(61.5, "Gold", "Gold", "promoted", True),
    # revenue 150k: 9; ops 75: 30; plan 15; demo 1: 7.5 -> 61.5; maintenance {Chloé} 1, sales {Dev} 1
    # Gold met (61.5>=60) -> promoted two tiers at once; at risk: 61.5 < 66
    ("M2", "2015-Q1"): E(59.7, "Silver", "Gold", "grace", True),
    # revenue 100k: 6; ops 78: 31.2; plan 15; demo 7.5 -> 59.7 < 60: qualifies Silver only;
    # below 1 <= grace 1: keeps Gold, at risk because in grace
    # M3 Cloudline (partner_type "cloud" matches the "Cloud" variant; Silver on record):
    # cloud people: Q3 {Eve, Frank} 2; Q4 {Eve} 1 (Frank expired 2014-12-15); Q1 {Eve, Gina} 2.
    ("M3", "2014-Q3"): E(70.9, "Gold", "Gold", "promoted", True, OE),
    # revenue 200k: 12; ops 91: 36.4; plan 15; demo 1: 7.5 -> 70.9 >= 55 (variant), cloud 2>=2,
    # sales 1, demo 1 -> Gold; at risk: cloud 2 < 2.2; badge: 91 >= 90
    ("M3", "2014-Q4"): E(72.7, "Silver", "Gold", "grace", True),
    # revenue 250k: 15; ops 88: 35.2; plan 15; demo 7.5 -> 72.7; cloud 1 < 2: Silver (cloud>=1)
    ("M3", "2015-Q1"): E(77.7, "Gold", "Gold", "held", True, OE),
    # revenue 300k: 18; ops 93: 37.2; plan 15; demo 7.5 -> 77.7; cloud 2 again -> held, grace reset
    # M4 Bayside (Platinum on record): installation {Hal, Ivy, Jon} 3, then 2 after Jon's expires 2014-11-30
    ("M4", "2014-Q3"): E(96.0, "Platinum", "Platinum", "held", True, OE),
    # revenue 600k: 30; ops 90: 36; plan 15; demo 3: 15 -> 96; installation 3 < 3.3; badge 90 >= 90
    ("M4", "2014-Q4"): E(95.6, "Gold", "Platinum", "grace", True),
    # 30 + ops 89: 35.6 + 15 + 15 = 95.6; installation 2 < 3 -> Gold; below 1: grace
    ("M4", "2015-Q1"): E(93.0, "Gold", "Gold", "demoted", True, OE),
    # revenue 450k: 27; ops 90: 36; 15; 15 -> 93; still Gold: below 2 > 1 -> demoted;
    # at risk in Gold: installation 2 < 2.2
    # M5 Prairie Voice (Authorized): installation {Kai, Lia} 2, sales {Kai, Lia} 2; demo empty = 0
    ("M5", "2014-Q3"): E(33.0, "Authorized", "Authorized", "held", False),
    # revenue 150k: 9; ops 60: 24; 0; 0 -> 33 < 40
    ("M5", "2014-Q4"): E(55.0, "Silver", "Silver", "promoted", False),
    # revenue 200k: 12; ops 70: 28; plan 15; demo 0 -> 55; Gold needs demo 1 -> Silver
    # not at risk: 55 >= 44, installation 2 >= 1.1, sales 2 >= 1.1
    ("M5", "2015-Q1"): E(58.8, "Silver", "Silver", "held", False),
    # revenue 250k: 15; ops 72: 28.8; plan 15 -> 58.8
}

# ------------------------------------------------------------------------------------ Poly
# Score = umsatz 50 @ 1,000,000 + demo_geraete 25 @ 4 + deal_registrierungen 25 @ 10.
# Silber: score>=25, vertrieb>=1. Gold: score>=50, vertrieb>=2, technik>=1, umsatz>=250k
# (region CEE: score>=40, vertrieb>=1, umsatz>=150k, technik>=1 stays). Platin: 75, 3, 2, 750k.
# grace 1. Loaded alone, the version of 10 April 2020 is the first version: its [transition]
# protects nothing (test_fixture_timelines.py loads it after the Polycom program, protected).
POLY = {
    # P1 Systemhaus Nord (Gold) + P2. Group vertrieb: {Anna, Ben} 2, + Carla from 2020-08-01 = 3.
    # Group technik: {Anna} 1 until 2020-10-31, none in Q4, {Dirk, Emil} 2 in 2021-Q1.
    ("P1", "2020-Q2"): E(52.5, "Gold", "Gold", "held", True),
    # umsatz 400k+100k=500k: 25; demo 2+0: 12.5; deals 5+1=6: 15 -> 52.5; at risk: 52.5 < 55
    ("P1", "2020-Q3"): E(90.0, "Gold", "Gold", "held", True),
    # 600k+200k=800k: 40; demo 3+1=4: 25; deals 8+4=12: 25 -> 90; Platin needs technik 2 (has 1)
    # at risk: technik 1 < 1.1
    ("P1", "2020-Q4"): E(80.0, "Silber", "Gold", "grace", True),
    # 500k+200k=700k: 35; demo 4: 25; deals 6+2=8: 20 -> 80; technik 0 -> Silber; grace 1 of 4
    ("P1", "2021-Q1"): E(90.0, "Platin", "Platin", "promoted", True),
    # 700k+100k=800k: 40; demo 4: 25; deals 10+2: 25 -> 90; technik 2, vertrieb 3, umsatz >= 750k
    # at risk: vertrieb 3 < 3.3
    # P2 Nord Services Leipzig (Register): vertrieb {Carla} from Q3; technik {Dirk} in 2021-Q1.
    ("P2", "2020-Q2"): E(7.5, "Register", "Register", "held", False),
    # 100k: 5; demo (no row) 0; deals 1: 2.5 -> 7.5
    ("P2", "2020-Q3"): E(26.25, "Silber", "Silber", "promoted", True),
    # 200k: 10; demo 1: 6.25; deals 4: 10 -> 26.25 >= 25; at risk: 26.25 < 27.5
    ("P2", "2020-Q4"): E(21.25, "Register", "Silber", "grace", True),
    # 200k: 10; 6.25; deals 2: 5 -> 21.25 < 25; grace 1
    ("P2", "2021-Q1"): E(16.25, "Register", "Register", "demoted", False),
    # 100k: 5; 6.25; 5 -> 16.25; below 2 > grace 1: demoted
    # P3 Praha Connect (region "cee" matches "CEE"; Silber): vertrieb {Jana, Lukas} 2, {Jana} 1
    # after Lukas's expires 2020-11-30; technik {Petr, Tomas} 2.
    ("P3", "2020-Q2"): E(41.5, "Gold", "Gold", "promoted", True),
    # 180k: 9; demo 2: 12.5; deals 8: 20 -> 41.5 >= 40 (CEE), umsatz 180k >= 150k -> Gold
    # at risk: 41.5 < 44
    ("P3", "2020-Q3"): E(52.5, "Gold", "Gold", "held", False),
    # 300k: 15; 12.5; deals 10: 25 -> 52.5 >= 44; vertrieb 2 >= 1.1; technik 2; 300k >= 165k
    ("P3", "2020-Q4"): E(37.5, "Silber", "Gold", "grace", True),
    # 200k: 10; 12.5; deals 6: 15 -> 37.5 < 40 -> Silber; grace 1
    ("P3", "2021-Q1"): E(54.25, "Gold", "Gold", "held", True),
    # 260k: 13; demo 3: 18.75; deals 9: 22.5 -> 54.25; Gold again; vertrieb 1 < 1.1
    # P4 Alpen Audio (Platin): vertrieb 3, technik {Lena} 1 -> never Platin (technik 2 needed)
    ("P4", "2020-Q2"): E(95.0, "Gold", "Platin", "grace", True),
    # 900k: 45; demo 4: 25; deals 10: 25 -> 95; grace 1
    ("P4", "2020-Q3"): E(85.0, "Gold", "Gold", "demoted", True),
    # 800k: 40; 25; deals 8: 20 -> 85; below 2 > 1: demoted; at risk in Gold: technik 1 < 1.1
    ("P4", "2020-Q4"): E(92.5, "Gold", "Gold", "held", True),
    # 850k: 42.5; 25; 25 -> 92.5; technik 1 < 1.1
    ("P4", "2021-Q1"): E(75.0, "Gold", "Gold", "held", True),
    # 700k: 35; 25; deals 6: 15 -> 75; technik 1 < 1.1
    # P5 Rhein Video (Register): vertrieb {Olaf} from 2020-07-01, + Pia from 2020-12-01
    ("P5", "2020-Q2"): E(21.25, "Register", "Register", "held", False),
    # 150k: 7.5; demo 1: 6.25; deals 3: 7.5 -> 21.25
    ("P5", "2020-Q3"): E(32.5, "Silber", "Silber", "promoted", True),
    # 200k: 10; demo 2: 12.5; deals 4: 10 -> 32.5; vertrieb 1 < 1.1
    ("P5", "2020-Q4"): E(37.5, "Silber", "Silber", "held", False),
    # 250k: 12.5; 12.5; deals 5: 12.5 -> 37.5 >= 27.5; vertrieb 2 >= 1.1
    ("P5", "2021-Q1"): E(42.5, "Silber", "Silber", "held", False),
    # 300k: 15; 12.5; deals 6: 15 -> 42.5
}

# ----------------------------------------------------------------------------------- Avaya
# Six Solution Expert specializations (designations): 2 people certified in the area (over the
# group) and 100,000 of the area's own revenue. Score = revenue 40 @ 1,000,000 + csat 30 @ 90
# + designations 30 @ 3. Silver: designations >= 1. Gold: score >= 60, revenue >= 250k (Midmarket
# 150k), designations >= 2, csat >= 80. Platinum: 80, 750k (Midmarket 500k), 3, 85. Annual, grace 1,
# margin 10% (designations are a count: 1 held is below the band edge 1.1). Loaded alone the
# version of 1 October 2016 is the first one: 2015 is not evaluated and nothing is protected
# (test_fixture_timelines.py loads it after the version before, with the one-year protection).
# Specializations: A1 UC Enterprise {Ray, Sue} 300k, CC Enterprise {Ana, Bo} 200k (50k in 2017),
# Networking {Cy, Di} 150k: 3, then 2. A2 UC Midmarket {Tom, Uli} 120k: 1. A3 CC Enterprise
# {Wes, Xia} 150k, Video {Vic} + Yan from 2017-03-01, 100k: 1, then 2. A4 CC Midmarket {Zoe, Al}
# 80k, then 110k: 0, then 1. A5 Networking {Eli, Fay} from 2017-01-01, 120k in 2017: 0, then 1.
AVAYA = {
    ("A1", "2016"): E(98.0, "Platinum", "Platinum", "held", True, CSL),
    # revenue 700k + 250k = 950k: 38; csat 96: 30; 3 held: 30 -> 98; at risk: designations 3 < 3.3
    ("A1", "2017"): E(84.0, "Gold", "Platinum", "grace", True),
    # 600k + 250k = 850k: 34; csat 94: 30; 2 held: 20 -> 84; Platinum needs 3: Gold; grace 1
    ("A2", "2016"): E(48.0, "Silver", "Gold", "grace", True),
    # 250k: 10; csat 84: 28; 1 held: 10 -> 48 < 60: Silver; below 1: grace
    ("A2", "2017"): E(48.0, "Silver", "Silver", "demoted", True),
    # the same 48; below 2 > 1: demoted; at risk in Silver: designations 1 < 1.1
    ("A3", "2016"): E(56.0, "Silver", "Gold", "grace", True),
    # 400k: 16; csat 90: 30; 1 held: 10 -> 56; Gold needs 60 and 2 held: Silver; grace
    ("A3", "2017"): E(70.0, "Gold", "Gold", "held", True),
    # 500k: 20; 30; 2 held: 20 -> 70; Gold; at risk: designations 2 < 2.2
    ("A4", "2016"): E(42.0, "Registered", "Silver", "grace", True),
    # 300k: 12; csat 90: 30; 0 held -> 42; Silver needs 1: Registered; grace
    ("A4", "2017"): E(52.0, "Silver", "Silver", "held", True),
    # 300k: 12; csat 92: 30; 1 held: 10 -> 52; Silver again; designations 1 < 1.1
    ("A5", "2016"): E(33.0, "Registered", "Registered", "held", False),
    # 200k: 8; csat 75: 25 -> 33; no tier on record: Registered
    ("A5", "2017"): E(43.0, "Silver", "Silver", "promoted", True),
    # 200k: 8; csat 75: 25; Networking {Eli, Fay} from 2017-01-01, 120k: 1 held: 10 -> 43;
    # promoted to Silver; at risk: designations 1 < 1.1
}

# ------------------------------------------------------------------------------- Microsoft
# Score = net_customer_adds 30 @ 10 + cert:intermediate 20 @ 4 + cert:advanced 20 @ 2
#         + usage_growth 15 @ 20 + deployments 15 @ 3. Solutions Partner: score >= 70.
# monthly, grace 2, margin 5%: at risk below 73.5. Badge at usage_growth >= 25.
MICROSOFT = {
    # S1 Contoso (Solutions Partner) + S2. Group intermediate {Alex, Beth, Dan} 3.
    # Group advanced: Jan {Cara} 1; Feb {Dan} 1 (Cara expired 02-15, Dan earned 02-29, the
    # last day of the leap February); Mar, Apr {Dan, Elle} 2. usage_growth is S1's own.
    ("S1", "2024-01"): E(77.5, "Solutions Partner", "Solutions Partner", "held", False),
    # adds 6+2=8: 24; intermediate 3: 15; advanced 1: 10; usage 18: 13.5; deploy 2+1=3: 15 -> 77.5
    ("S1", "2024-02"): E(68.0, "Member", "Solutions Partner", "grace", True),
    # adds 5+1=6: 18; 15; 10; usage 20: 15; deploy 2+0=2: 10 -> 68 < 70; grace 1
    ("S1", "2024-03"): E(90.0, "Solutions Partner", "Solutions Partner", "held", False, CSC),
    # adds 7+3=10: 30; 15; advanced 2: 20; usage 26: 15; deploy 2: 10 -> 90; badge 26 >= 25
    ("S1", "2024-04"): E(80.0, "Solutions Partner", "Solutions Partner", "held", False),
    # adds 4+2=6: 18; 15; 20; usage 16: 12; deploy 3+1=4: 15 (capped) -> 80
    # S2 Contoso Cloud Labs (Member): own intermediate {Dan} 1; advanced {Dan} from Feb
    ("S2", "2024-01"): E(31.0, "Member", "Member", "held", False, CSC),
    # adds 2: 6; 1: 5; 0; usage 30: 15; deploy 1: 5 -> 31; badge 30 >= 25
    ("S2", "2024-02"): E(27.0, "Member", "Member", "held", False),
    # 1: 3; 5; advanced 1: 10; usage 12: 9; 0 -> 27
    ("S2", "2024-03"): E(30.0, "Member", "Member", "held", False),
    # 3: 9; 5; 10; usage 8: 6; 0 -> 30
    ("S2", "2024-04"): E(33.5, "Member", "Member", "held", False),
    # 2: 6; 5; 10; usage 10: 7.5; deploy 1: 5 -> 33.5
    # S3 Fabrikam (Member): intermediate {Gus, Hana, Ian} 3, + Jade from 2024-03-05 = 4; advanced {Kim} 1
    ("S3", "2024-01"): E(52.5, "Member", "Member", "held", False),
    # 5: 15; 3: 15; 1: 10; usage 10: 7.5; deploy 1: 5 -> 52.5
    ("S3", "2024-02"): E(66.5, "Member", "Member", "held", False),
    # 7: 21; 15; 10; usage 14: 10.5; deploy 2: 10 -> 66.5
    ("S3", "2024-03"): E(76.0, "Solutions Partner", "Solutions Partner", "promoted", False),
    # 8: 24; 4: 20; 10; usage 16: 12; 10 -> 76 >= 73.5: not at risk
    ("S3", "2024-04"): E(70.0, "Solutions Partner", "Solutions Partner", "held", True),
    # 7: 21; 20; 10; usage 12: 9; 10 -> 70: meets 70, but 70 < 73.5: at risk
    # S4 Northwind Traders (Solutions Partner): intermediate {Lou, Mia} 2 in Jan (Lou's expires
    # 2024-01-31, still active on that day), {Mia} 1 from Feb; advanced {Ned} 1
    ("S4", "2024-01"): E(80.0, "Solutions Partner", "Solutions Partner", "held", False),
    # 10: 30; 2: 10; 1: 10; usage 20: 15; deploy 3: 15 -> 80
    ("S4", "2024-02"): E(69.0, "Member", "Solutions Partner", "grace", True),
    # 8: 24; 1: 5; 10; 15; 15 -> 69; grace 1
    ("S4", "2024-03"): E(69.0, "Member", "Solutions Partner", "grace", True),
    # 9: 27; 5; 10; usage 16: 12; 15 -> 69; grace 2
    ("S4", "2024-04"): E(64.5, "Member", "Member", "demoted", False),
    # 7: 21; 5; 10; usage 18: 13.5; 15 -> 64.5; below 3 > 2 -> demoted
    # S5 Tailspin (Member): no certifications, no metrics after February (no value: 0)
    ("S5", "2024-01"): E(14.75, "Member", "Member", "held", False),
    # 2: 6; usage 5: 3.75; deploy 1: 5 -> 14.75
    ("S5", "2024-02"): E(24.0, "Member", "Member", "held", False, CSC),
    # 3: 9; usage 25: 15; 0 -> 24; badge 25 >= 25
    ("S5", "2024-03"): E(0.0, "Member", "Member", "held", False),
    ("S5", "2024-04"): E(0.0, "Member", "Member", "held", False),
}

# ------------------------------------------------------------------------------------- AWS
# No score components: every score is 0. Gates (accreditation / technical / launched):
# Select 4/2/3, Advanced 8/6/20, Premier 20/25/50. grace 1, margin 10%. Badge at launched >= 50.
AWS = {
    # W1 Skyline (Advanced) + W2. Group accreditation: staff 01-18 = 18; 17 in Q2 (staff 01
    # expired 2023-05-15); 20 in Q3 (staff 19-21 from 2023-08-01). Group technical: engineers
    # 01-24 = 24 (engineer 01's second certification counts once); 26 in Q3.
    ("W1", "2023-Q1"): E(0.0, "Select", "Advanced", "grace", True),
    # launched 14+4=18 < 20: Advanced fails, Select met (18, 24, 18); grace 1
    ("W1", "2023-Q2"): E(0.0, "Advanced", "Advanced", "held", False),
    # launched 20+6=26 >= 20, 17 >= 8, 24 >= 6; not at risk: 17 >= 8.8, 24 >= 6.6, 26 >= 22
    ("W1", "2023-Q3"): E(0.0, "Premier", "Premier", "promoted", True, LL),
    # 20 >= 20, 26 >= 25, launched 40+12=52 >= 50 -> Premier; at risk: 20 < 22, 26 < 27.5,
    # 52 < 55; badge 52 >= 50
    # W2 Skyline Data (Registered): own accreditation 4 (7 in Q3), technical 6 (8 in Q3)
    ("W2", "2023-Q1"): E(0.0, "Select", "Select", "promoted", True),
    # 4 >= 4, 6 >= 2, launched 4 >= 3; at risk: 4 < 4.4
    ("W2", "2023-Q2"): E(0.0, "Select", "Select", "held", True),
    # 4, 6, launched 6; 4 < 4.4
    ("W2", "2023-Q3"): E(0.0, "Select", "Select", "held", False),
    # 7 < 8 for Advanced; not at risk: 7 >= 4.4, 8 >= 2.2, 12 >= 3.3
    # W3 Orbit (Select): accreditation 4, then 3 after consultant 4's expires 2023-04-30; technical 3
    ("W3", "2023-Q1"): E(0.0, "Select", "Select", "held", True),
    # 4, 3, launched 5; at risk 4 < 4.4
    ("W3", "2023-Q2"): E(0.0, "Registered", "Select", "grace", True),
    # 3 < 4; grace 1
    ("W3", "2023-Q3"): E(0.0, "Registered", "Registered", "demoted", False),
    # still 3: below 2 > 1 -> demoted to the entry tier
    # W4 Nimbus (Registered): accreditation 5; technical 1, 2 from 2023-05-01
    ("W4", "2023-Q1"): E(0.0, "Registered", "Registered", "held", False),
    # technical 1 < 2 and launched 2 < 3
    ("W4", "2023-Q2"): E(0.0, "Select", "Select", "promoted", True),
    # 5, 2, launched 3: Select; at risk: technical 2 < 2.2 (and launched 3 < 3.3)
    ("W4", "2023-Q3"): E(0.0, "Select", "Select", "held", True),
    # 5, 2, launched 4; technical 2 < 2.2
    # W5 Delta Devs (Registered): 1 accredited person, no technical
    ("W5", "2023-Q1"): E(0.0, "Registered", "Registered", "held", False),
    ("W5", "2023-Q2"): E(0.0, "Registered", "Registered", "held", False),
    ("W5", "2023-Q3"): E(0.0, "Registered", "Registered", "held", False),
}

SE = "Solution Expert: "
# (v2 §4) the export's last column when the version in force defines designations: held, sorted
DESIGNATIONS_HELD = {
    "avaya_connect": {
        ("A1", "2016"): (
            f"{SE}Contact Center (Enterprise)",
            f"{SE}Networking",
            f"{SE}Unified Communications (Enterprise)",
        ),
        ("A1", "2017"): (f"{SE}Networking", f"{SE}Unified Communications (Enterprise)"),
        ("A2", "2016"): (f"{SE}Unified Communications (Midmarket)",),
        ("A2", "2017"): (f"{SE}Unified Communications (Midmarket)",),
        ("A3", "2016"): (f"{SE}Contact Center (Enterprise)",),
        ("A3", "2017"): (f"{SE}Contact Center (Enterprise)", f"{SE}Video"),
        ("A4", "2017"): (f"{SE}Contact Center (Midmarket)",),
        ("A5", "2017"): (f"{SE}Networking",),
    }
}

CASES = {
    "mitel_2014_na": MITEL,
    "poly_2020": POLY,
    "avaya_connect": AVAYA,
    "microsoft_capability": MICROSOFT,
    "aws_services_path": AWS,
}

# What the article says, checked on the loaded program:
# name -> (tiers, frequency, grace_periods, badges)
FACTS = {
    "mitel_2014_na": (("Authorized", "Silver", "Gold", "Platinum"), "quarterly", 1, ["Operational Excellence"]),
    "poly_2020": (("Register", "Silber", "Gold", "Platin"), "quarterly", 1, []),
    "avaya_connect": (("Registered", "Silver", "Gold", "Platinum"), "annual", 1, ["Customer Satisfaction Leader"]),
    "microsoft_capability": (("Member", "Solutions Partner"), "monthly", 2, ["Customer Success Champion"]),
    "aws_services_path": (("Registered", "Select", "Advanced", "Premier"), "quarterly", 1, ["Launch Leader"]),
}


# --------------------------------------------------------------------------------- helpers


def program_of(name: str):
    path = PROGRAMS / f"{name}.toml"
    return parse_program(path.read_text(encoding="utf-8"), path.name)


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _date(text: str) -> int:
    return date.fromisoformat(text).toordinal() if text.strip() else NEVER


def build_inputs(program, folder: Path) -> Inputs:
    """The fixture CSVs as scoring inputs, read the way spec §2 describes them."""
    partners = read_rows(folder / "partners.csv")
    index = {p["partner_id"]: i for i, p in enumerate(partners)}
    parent = np.array([index[p["parent_id"]] if p["parent_id"] else -1 for p in partners], dtype=np.int64)
    tier = np.array([program.tier_index(p["tier"]) if p["tier"] else 0 for p in partners], dtype=np.int64)

    rows = read_rows(folder / "metrics.csv")
    if rows and "metric" in rows[0]:  # long format: partner_id,period,metric,value
        cells = [(r["partner_id"], r["period"], r["metric"], r["value"]) for r in rows]
    else:  # wide format: partner_id,period,<metric>,...
        cells = [
            (r["partner_id"], r["period"], m, v)
            for r in rows
            for m, v in r.items()
            if m not in ("partner_id", "period")
        ]
    periods = sorted({parse_period(c[1]) for c in cells})
    k = {p.label: i for i, p in enumerate(periods)}
    metrics: dict[str, np.ndarray] = {}
    for pid, period, metric, value in cells:
        if value.strip():  # an empty cell: no value (0)
            metrics.setdefault(metric, np.zeros((len(periods), len(partners))))
            metrics[metric][k[parse_period(period).label], index[pid]] = float(value)

    certs = read_rows(folder / "certifications.csv")
    people: dict[str, int] = {}
    certifications = Certifications(
        partner=np.array([index[c["partner_id"]] for c in certs], dtype=np.int64),
        person=np.array(
            [people.setdefault(c["person"].strip().casefold(), len(people)) for c in certs], dtype=np.int64
        ),
        track=[c["track"] for c in certs],
        earned=np.array([_date(c["earned_on"]) for c in certs], dtype=np.int64),
        expires=np.array([_date(c["expires_on"]) for c in certs], dtype=np.int64),
    )
    return Inputs(
        partners=Partners(
            [p["partner_id"] for p in partners],
            [p["region"] for p in partners],
            [p["partner_type"] for p in partners],
            parent,
            tier,
        ),
        periods=periods,
        metrics=metrics,
        certifications=certifications,
    )


def expected_rows(name: str, period: str) -> list[list[str]]:
    """The §4 export rows for one period (no overrides: effective = earned), by partner_id."""
    rows = []
    for (pid, per), e in sorted(CASES[name].items()):
        if per == period:
            rows.append(
                [
                    pid,
                    per,
                    f"{e.score:.2f}",
                    e.qualified,
                    e.earned,
                    e.earned,
                    e.event,
                    "true" if e.at_risk else "false",
                    ";".join(e.badges),
                ]
            )
    if name in DESIGNATIONS_HELD:
        for row in rows:
            row.append(";".join(DESIGNATIONS_HELD[name].get((row[0], row[1]), ())))
    return rows


def periods_of(name: str) -> list[str]:
    return [p.label for p in sorted({parse_period(per) for _, per in CASES[name]})]


# ------------------------------------------------------------------------------------ tests


@pytest.mark.parametrize("name", CASES)
def test_program_loads_and_says_what_the_article_says(name):
    program = program_of(name)
    tiers, frequency, grace, badges = FACTS[name]
    assert program.tiers == tiers
    assert program.frequency == frequency
    assert program.grace_periods == grace
    assert [b.name for b in program.badges] == badges
    # every tier above the entry tier has requirements, so no partner qualifies for free
    assert set(program.requirements) == set(tiers[1:])


def test_the_five_programs_cover_every_frequency():
    assert {program_of(n).frequency for n in CASES} == {"monthly", "quarterly", "annual"}


def test_mitel_badge_is_operational_excellence_at_ops_score_90():
    program = program_of("mitel_2014_na")
    (badge,) = program.badges
    assert (badge.metric, badge.min) == ("ops_score", 90)
    assert program.requirements["Gold"].variants[0].partner_type == "Cloud"


def test_fixture_data_exercises_every_event():
    """Each data set promotes, holds and graces; demotion wherever grace allows it in the data."""
    for name, cases in CASES.items():
        events = {e.event for e in cases.values()}
        assert {"promoted", "held", "grace"} <= events, name
        assert "demoted" in events, name


@pytest.mark.parametrize("name", CASES)
def test_pure_scoring_gives_the_hand_computed_outcomes(name):
    program = program_of(name)
    inputs = build_inputs(program, PROGRAMS / name)
    results = level(program, inputs)
    assert [r.period.label for r in results] == periods_of(name)
    badge_names = [b.name for b in program.badges]
    got = {}
    for r in results:
        for i, pid in enumerate(inputs.partners.ids):
            got[(pid, r.period.label)] = Expect(
                round(float(r.score[i]), 6),
                program.tiers[r.qualified[i]],
                program.tiers[r.earned[i]],
                EVENTS[r.event[i]],
                bool(r.at_risk[i]),
                tuple(sorted(n for j, n in enumerate(badge_names) if r.badges[j, i])),
            )
    assert set(got) == set(CASES[name])
    for key, expected in CASES[name].items():
        assert got[key] == expected, key


@pytest.mark.parametrize("name", CASES)
def test_command_line_exports_the_hand_computed_outcomes(name, tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'tiertui.db'}"
    folder = PROGRAMS / name

    def run(*args: str) -> str:
        code = main(["--db", url, "--user", "carol", *args])
        out, err = capsys.readouterr()
        assert code == 0, f"tiertui {' '.join(args)} failed: {err}"
        return out

    run("program", "load", str(PROGRAMS / f"{name}.toml"))
    for kind in ("partners", "metrics", "certifications"):
        run("import", kind, str(folder / f"{kind}.csv"))
    run("level")
    for period in periods_of(name):  # every period, the last one included
        out_file = tmp_path / f"{period}.csv"
        run("export", "scorecards", "--period", period, "--format", "csv", "-o", str(out_file))
        with out_file.open(newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        assert rows[0] == [
            "partner_id",
            "period",
            "score",
            "qualified_tier",
            "earned_tier",
            "effective_tier",
            "event",
            "at_risk",
            "badges",
        ] + (["designations"] if name in DESIGNATIONS_HELD else [])
        assert rows[1:] == expected_rows(name, period), period


def test_command_line_override_changes_only_the_effective_tier(tmp_path, capsys):
    """Mitel: an approved override lifts M5 to Gold from 2015-01-01; earned stays Silver."""
    url = f"sqlite:///{tmp_path / 'tiertui.db'}"
    folder = PROGRAMS / "mitel_2014_na"

    def run(user: str, *args: str) -> str:
        code = main(["--db", url, "--user", user, *args])
        out, err = capsys.readouterr()
        assert code == 0, f"tiertui {' '.join(args)} failed: {err}"
        return out

    run("carol", "program", "load", str(PROGRAMS / "mitel_2014_na.toml"))  # the first user: admin
    run("carol", "users", "add", "dave", "--role", "approver")
    for kind in ("partners", "metrics", "certifications"):
        run("carol", "import", kind, str(folder / f"{kind}.csv"))
    override_id = run(
        "carol", "override", "request", "M5", "Gold", "--reason", "strategic cloud launch", "--starts", "2015-01-01"
    ).strip()
    # the requester cannot approve their own request
    assert main(["--db", url, "--user", "carol", "override", "approve", override_id]) != 0
    capsys.readouterr()
    run("dave", "override", "approve", override_id)
    run("carol", "level")
    out_file = tmp_path / "q1.csv"
    run("carol", "export", "scorecards", "--period", "2015-Q1", "-o", str(out_file))
    with out_file.open(newline="", encoding="utf-8") as f:
        m5 = next(r for r in csv.DictReader(f) if r["partner_id"] == "M5")
    # window 2015-01-01..open holds 2015-Q1's end (2015-03-31): effective Gold; earned unchanged
    assert (m5["earned_tier"], m5["effective_tier"], m5["event"]) == ("Silver", "Gold", "held")
    out_file = tmp_path / "q4.csv"
    run("carol", "export", "scorecards", "--period", "2014-Q4", "-o", str(out_file))
    with out_file.open(newline="", encoding="utf-8") as f:
        m5 = next(r for r in csv.DictReader(f) if r["partner_id"] == "M5")
    # 2014-Q4 ends 2014-12-31, before the override starts: no effect
    assert (m5["earned_tier"], m5["effective_tier"]) == ("Silver", "Silver")
