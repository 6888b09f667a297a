"""`tiertui demo`: a realistic, deterministic demo database, from 100 to 200,000+ partners.

Everything random comes from one seed, so a seed always gives the same partners, metrics,
certifications, overrides and levelling results. Rows are generated as numpy columns and
written through the raw DB-API cursor in one transaction (COPY on PostgreSQL): building
100,000 partners with six quarters of metrics, and levelling them, takes seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from importlib import resources
from itertools import repeat

import numpy as np
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from ..scoring import Certifications as CertColumns
from ..scoring import Inputs, Partners, Period, Program, level, next_period, parse_period, parse_program
from ..scoring.natural import natural_sort_key
from ..storage import queries
from . import audit, levelling, overrides, programs, roles
from .demo_margins import with_margins
from .errors import ServiceError

Progress = Callable[[float, str], None]

DEMO_PROGRAM = "demo_program.toml"
# (v2 §3.11) the program's second version, from 2026-01-01: six designations, protection to 2026-06-30
DEMO_PROGRAM_2026 = "demo_program_2026.toml"
DEMO_AS_OF = date(2026, 11, 23)  # the demo's "today": periods end at the last full quarter before it
QUARTERS = 6
MAX_PEOPLE = 60  # certified people per partner (keeps generated names distinct within a partner)
CERT_VALIDITY_DAYS = 730
DIRECTOR = "Priya Raman"  # decides the demo's overrides (never their requester)

# ------------------------------------------------------------------------------ word lists

NAME_FIRST = (
    "Northwind",
    "Bluepeak",
    "Silverline",
    "Redwood",
    "Ironbridge",
    "Clearwater",
    "Summit",
    "Brightpath",
    "Cobalt",
    "Granite",
    "Harbor",
    "Keystone",
    "Lakeside",
    "Meridian",
    "Nimbus",
    "Oakridge",
    "Pinnacle",
    "Quantum",
    "Riverbend",
    "Skyline",
    "Sterling",
    "Stonegate",
    "Sunrise",
    "Tidewater",
    "Trident",
    "Vanguard",
    "Westgate",
    "Zenith",
    "Alpine",
    "Apex",
    "Beacon",
    "Blackstone",
    "Cascade",
    "Cedar",
    "Crescent",
    "Crossroads",
    "Evergreen",
    "Falcon",
    "Fjord",
    "Frontier",
    "Gateway",
    "Highland",
    "Horizon",
    "Juniper",
    "Kestrel",
    "Lighthouse",
    "Maple",
    "Mosaic",
    "Nordic",
    "Orbit",
    "Pacific",
    "Pioneer",
    "Polaris",
    "Prairie",
    "Redline",
    "Sapphire",
    "Sequoia",
    "Signal",
    "Solstice",
    "Spectrum",
    "Starling",
    "Tandem",
    "Timber",
    "True North",
    "Unity",
    "Vertex",
    "Vista",
    "Willow",
    "Atlas",
    "Bluewater",
    "Copperfield",
    "Driftwood",
)
NAME_SECOND = (
    "Networks",
    "Systems",
    "Communications",
    "Telecom",
    "Technologies",
    "Solutions",
    "Connect",
    "Voice",
    "Data",
    "Integration",
    "IT Services",
    "Digital",
    "Cloud",
    "Unified",
    "Infotech",
    "Telephony",
    "Datacom",
    "Netcom",
    "Consulting",
    "Partners",
    "Group",
    "Labs",
    "Works",
    "Computing",
    "Interactive",
    "Connections",
    "Voice & Data",
    "Link",
    "Comms",
    "Tech",
    "Infrastructure",
    "Managed Services",
    "Telesystems",
    "Engineering",
    "Wireless",
    "Secure",
)

# region -> [(country, weight, legal forms, cities)]
COUNTRIES: dict[str, list[tuple[str, float, tuple[str, ...], tuple[str, ...]]]] = {
    "NA": [
        (
            "United States",
            0.8,
            (" Inc.", " LLC", " Corp."),
            ("Chicago", "Denver", "Austin", "Atlanta", "Seattle", "Boston", "Phoenix", "Columbus"),
        ),
        ("Canada", 0.2, (" Inc.", " Ltd."), ("Toronto", "Ottawa", "Vancouver", "Calgary", "Montreal")),
    ],
    "EMEA": [
        ("Germany", 0.20, (" GmbH", " AG"), ("Munich", "Hamburg", "Cologne", "Frankfurt", "Berlin")),
        ("United Kingdom", 0.22, (" Ltd", " plc"), ("Leeds", "Manchester", "Bristol", "London", "Glasgow")),
        ("France", 0.14, (" SAS", " SARL"), ("Lyon", "Lille", "Nantes", "Toulouse")),
        ("Netherlands", 0.08, (" B.V.",), ("Utrecht", "Eindhoven", "Rotterdam")),
        ("Spain", 0.08, (" S.L.",), ("Madrid", "Valencia", "Seville")),
        ("Italy", 0.08, (" S.r.l.",), ("Milan", "Turin", "Bologna")),
        ("Sweden", 0.05, (" AB",), ("Gothenburg", "Malmo", "Stockholm")),
        ("Poland", 0.05, (" sp. z o.o.",), ("Warsaw", "Krakow", "Wroclaw")),
        ("South Africa", 0.05, (" (Pty) Ltd",), ("Johannesburg", "Cape Town", "Durban")),
        ("United Arab Emirates", 0.05, (" LLC", " FZE"), ("Dubai", "Abu Dhabi")),
    ],
    "LATAM": [
        ("Brazil", 0.40, (" Ltda.",), ("Sao Paulo", "Curitiba", "Porto Alegre", "Recife")),
        ("Mexico", 0.28, (" S.A. de C.V.",), ("Monterrey", "Guadalajara", "Puebla")),
        ("Colombia", 0.12, (" S.A.S.",), ("Bogota", "Medellin", "Cali")),
        ("Chile", 0.10, (" SpA",), ("Santiago", "Valparaiso")),
        ("Argentina", 0.10, (" S.A.",), ("Buenos Aires", "Cordoba", "Rosario")),
    ],
    "APAC": [
        ("Australia", 0.30, (" Pty Ltd",), ("Sydney", "Melbourne", "Brisbane", "Perth")),
        ("Japan", 0.15, (" K.K.",), ("Osaka", "Nagoya", "Fukuoka", "Tokyo")),
        ("Singapore", 0.12, (" Pte. Ltd.",), ("Singapore",)),
        ("India", 0.25, (" Pvt. Ltd.",), ("Bengaluru", "Pune", "Hyderabad", "Chennai")),
        ("New Zealand", 0.08, (" Ltd",), ("Auckland", "Wellington")),
        ("South Korea", 0.10, (" Co., Ltd.",), ("Seoul", "Busan")),
    ],
}
REGIONS = tuple(COUNTRIES)
REGION_WEIGHTS = (0.36, 0.32, 0.12, 0.20)
PARTNER_TYPES = ("VAR", "Service Provider", "MSP", "Distributor")
TYPE_WEIGHTS = (0.56, 0.14, 0.24, 0.06)

ACCOUNT_MANAGERS = {  # ten per region
    "NA": (
        "Dana Whitfield",
        "Marcus Bell",
        "Jenna Ortiz",
        "Tyler Brooks",
        "Rachel Kim",
        "Owen Gallagher",
        "Sofia Ramirez",
        "Derek Chen",
        "Hannah Morris",
        "Victor Nguyen",
    ),
    "EMEA": (
        "Lukas Berger",
        "Claire Dubois",
        "Marco Rossi",
        "Emma Lindqvist",
        "James Whitaker",
        "Anna Kowalska",
        "Pieter de Vries",
        "Lucia Fernandez",
        "Thabo Nkosi",
        "Omar Haddad",
    ),
    "LATAM": (
        "Camila Souza",
        "Diego Hernandez",
        "Valentina Rojas",
        "Mateo Gomez",
        "Isabela Costa",
        "Santiago Perez",
        "Lucia Morales",
        "Rafael Lima",
        "Gabriela Vargas",
        "Tomas Silva",
    ),
    "APAC": (
        "Haruto Sato",
        "Mei Lin Tan",
        "Arjun Mehta",
        "Chloe Wilson",
        "Ji-ho Park",
        "Priya Nair",
        "Liam O'Connor",
        "Yuki Tanaka",
        "Wei Zhang",
        "Aroha Ngata",
    ),
}

# the demo's people: every account manager may request overrides; the director decides them
DEMO_PEOPLE = {**{name: "manager" for names in ACCOUNT_MANAGERS.values() for name in names}, DIRECTOR: "approver"}

PERSON_FIRST = (
    "Ana",
    "Ben",
    "Carla",
    "David",
    "Elena",
    "Felix",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Kara",
    "Leo",
    "Maya",
    "Nils",
    "Olga",
    "Pablo",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
    "Umar",
    "Vera",
    "Wes",
    "Xena",
    "Yusuf",
    "Zoe",
    "Amir",
    "Bianca",
    "Chris",
    "Dina",
    "Emil",
    "Fatima",
    "Gabriel",
    "Helena",
    "Ivan",
    "Julia",
    "Kenji",
    "Lena",
    "Mateus",
    "Nora",
    "Oscar",
    "Paula",
    "Ravi",
    "Sara",
    "Tomas",
    "Ulla",
    "Viktor",
    "Wendy",
    "Aisha",
    "Bruno",
    "Chloe",
    "Dmitri",
    "Eva",
    "Farah",
    "Georg",
    "Hana",
    "Igor",
    "Jade",
    "Karl",
    "Lucia",
    "Marek",
    "Nadia",
    "Omar",
    "Priya",
)  # 64 names: a step coprime with 64 gives distinct first names within a partner
PERSON_LAST = (
    "Adams",
    "Baker",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Hughes",
    "Ito",
    "Jensen",
    "Kowalski",
    "Larsen",
    "Moreau",
    "Novak",
    "Okafor",
    "Petrov",
    "Quintero",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Umarov",
    "Varga",
    "Weber",
    "Xu",
    "Yilmaz",
    "Zimmer",
    "Alvarez",
    "Brown",
    "Chen",
    "Dias",
    "Evans",
    "Ferreira",
    "Gupta",
    "Horvat",
    "Ivanova",
    "Johnson",
    "Kim",
    "Lopez",
    "Martin",
    "Nguyen",
    "Olsen",
    "Patel",
    "Reyes",
    "Silva",
    "Taylor",
    "Usman",
    "Vogel",
    "Walsh",
    "Young",
    "Zhang",
    "Andersen",
    "Bauer",
    "Carter",
    "Dahl",
    "Engel",
    "Fox",
    "Gomez",
    "Hansen",
    "Jovanovic",
    "Khan",
    "Lindgren",
)
INITIALS = "ABCDEFGHJKLMNPRSTVW"

# track -> (certification names, weight of the track as a person's primary track)
TRACKS: dict[str, tuple[tuple[str, str], float]] = {
    "uc": (("UC Technical Specialist", "UC Implementation Expert"), 0.42),
    "sales": (("Sales Professional", "Solution Sales Expert"), 0.26),
    "cloud": (("Cloud Solutions Associate", "Cloud Solutions Architect"), 0.18),
    "contact_center": (("Contact Center Specialist", "Contact Center Design Expert"), 0.14),
}

KEEP_REASONS = (
    "Restructuring after a merger; pipeline recovering next quarter",
    "Lost a key engineer; two hires start next month",
    "Large public-sector deal delayed by the customer's budget freeze",
    "Distributor switch disrupted ordering for one quarter",
    "Strategic account in a market we are building",
)
RAISE_REASONS = (
    "Signed a multi-year contact center deal; revenue lands over four quarters",
    "New cloud practice launched with three certified architects",
    "Acquired a local competitor; combined numbers qualify",
    "Named reference partner for the regional launch",
    "Executive sponsorship agreed at the partner summit",
)


# ------------------------------------------------------------------------------ report


@dataclass
class DemoReport:
    """What a demo build made, for the CLI and the tests."""

    partners: int
    parents: int
    periods: list[str]
    metric_values: int
    certifications: int
    certifications_expiring: int  # active at the last period's end, expiring within 90 days after it
    certifications_expired: int  # expired on or before the last period's end
    overrides_pending: int
    overrides_approved: int
    overrides_rejected: int
    summary: levelling.LevelSummary
    seconds: float = 0.0
    seed: int = 0
    notes: list[str] = field(default_factory=list)

    def text(self) -> str:
        lines = [
            f"Demo built (seed {self.seed}) in {self.seconds:.1f} s: {self.partners:,} partners "
            f"({self.parents:,} with subsidiaries), {len(self.periods)} quarters "
            f"({self.periods[0]} to {self.periods[-1]}), {self.metric_values:,} metric values,",
            f"  {self.certifications:,} certifications ({self.certifications_expiring:,} expiring within 90 days, "
            f"{self.certifications_expired:,} expired), overrides: {self.overrides_pending} pending, "
            f"{self.overrides_approved} approved, {self.overrides_rejected} rejected.",
            self.summary.text(),
        ]
        return "\n".join(lines)


# ------------------------------------------------------------------------------ entry point


def demo_program_2026() -> Program:
    """The demo program's second version (a program change with protection), in ``tiertui.data``."""
    text = resources.files("tiertui.data").joinpath(DEMO_PROGRAM_2026).read_text(encoding="utf-8")
    return parse_program(text, DEMO_PROGRAM_2026)


def demo_program() -> Program:
    """The demo program shipped in ``tiertui.data``."""
    text = resources.files("tiertui.data").joinpath(DEMO_PROGRAM).read_text(encoding="utf-8")
    return parse_program(text, DEMO_PROGRAM)


def demo_periods(as_of: date = DEMO_AS_OF, count: int = QUARTERS) -> list[Period]:
    """``count`` quarters ending at the last full quarter before ``as_of``."""
    current = parse_period(f"{as_of.year}-Q{(as_of.month - 1) // 3 + 1}")
    first = parse_period(f"{current.start.year - (count + 3) // 4 - 1}-Q{(current.start.month - 1) // 3 + 1}")
    grid = [first]
    while grid[-1].start < current.start:
        grid.append(next_period(grid[-1]))
    return grid[-1 - count : -1]


def build_demo(
    engine: Engine,
    partners: int = 5000,
    seed: int = 2026,
    user: str = "demo",
    progress: Progress | None = None,
    *,
    replace: bool = False,
    as_of: date = DEMO_AS_OF,
    timeline: bool = True,
) -> DemoReport:
    """Fill an empty database with the demo program and ``partners`` partners, then level it.

    ``timeline``: also load the program's second version (from 2026-01-01, with designations and
    protection, spec v2 §3.11), so the demo shows a program change; False: the first version alone.

    Refuses a database that already has partners unless ``replace`` is true, in which case its
    partners, metrics, certifications, overrides and results are deleted first (programs and the
    audit log are kept).
    """
    if partners < 1:
        raise ServiceError("a demo needs at least 1 partner")
    progress = progress or (lambda _f, _m: None)
    started = time.perf_counter()
    with Session(engine) as session, session.begin():  # the builder of a new database is its admin
        roles.claim_new_database(session, user, "building a demo")
        roles.add_missing(session, user, DEMO_PEOPLE)
    existing = _partner_count(engine)
    if existing and not replace:
        raise ServiceError(
            f"this database already has {existing:,} partners; a demo is only built into an empty database "
            "(use --replace to delete its partners, metrics, certifications, overrides and results first)"
        )
    program = demo_program()
    periods = demo_periods(as_of)
    progress(0.0, "generating partners")
    data = generate(program, partners, seed, periods)
    timeline_programs = [program, demo_program_2026()] if timeline else [program]
    with_margins(data, timeline_programs, ("Gold", "Platinum"), seed)  # at risk stays a signal
    progress(0.15, "writing the demo data")
    programs.store_program(engine, program, user, DEMO_PROGRAM, level=False)  # levelled at the end
    if timeline:  # the program changes on 2026-01-01, with protection: a new user sees both
        programs.store_program(engine, demo_program_2026(), user, DEMO_PROGRAM_2026, level=False)
    with Session(engine) as session, session.begin():
        conn = session.connection()
        if existing:
            _clear(conn)
        metric_rows, cert_rows = _write(conn, data)
        audit.record(
            session,
            user,
            "demo.build",
            "database",
            "",
            partners=partners,
            seed=seed,
            replace=bool(existing),
            periods=[p.label for p in periods],
            metric_values=metric_rows,
            certifications=cert_rows,
        )
    progress(0.5, "filing overrides")
    pending, approved, rejected = _file_overrides(engine, data, seed, periods)
    summary = levelling.run_levelling(engine, user, lambda f, m: progress(0.55 + 0.45 * f, m))
    end = periods[-1].end.toordinal()
    expires = data.cert_expires
    return DemoReport(
        partners=partners,
        parents=int(len(np.unique(data.parent[data.parent >= 0]))),
        periods=[p.label for p in periods],
        metric_values=metric_rows,
        certifications=cert_rows,
        certifications_expiring=int(
            ((expires > end) & (expires <= end + 90) & (data.cert_earned <= end) & ~data.cert_renewed).sum()
        ),
        certifications_expired=int(((expires < end) & ~data.cert_renewed).sum()),
        overrides_pending=pending,
        overrides_approved=approved,
        overrides_rejected=rejected,
        summary=summary,
        seconds=time.perf_counter() - started,
        seed=seed,
    )


def _partner_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(queries.fetchall(conn, "SELECT COUNT(*) FROM partner")[0][0])


def _clear(conn: Connection) -> None:
    for table in ("level_result", "tier_override", "call_note", "certification", "metric_value", "partner"):
        queries.execute(conn, f"DELETE FROM {table}")


# ------------------------------------------------------------------------------ generation


@dataclass
class DemoData:
    """Generated demo rows, as columns (index i is the partner with key i + 1)."""

    ids: list[str]
    names: list[str]
    region: np.ndarray  # index into REGIONS
    country: list[str]
    ptype: np.ndarray  # index into PARTNER_TYPES
    parent: np.ndarray  # partner index, -1 for none
    manager: list[str]
    tier: list[str | None]
    tier_since: list[str | None]
    trend: np.ndarray  # -1 declining, 0 steady, 1 growing
    metrics: dict[str, np.ndarray]  # metric -> (periods, partners), NaN: no value
    periods: list[Period]
    cert_partner: np.ndarray
    cert_person: list[str]
    cert_name: list[str]
    cert_track: list[str]
    cert_earned: np.ndarray  # ordinals
    cert_expires: np.ndarray  # ordinals, NEVER for no expiry
    cert_renewed: np.ndarray  # bool: the same person earned the same certification again later


NEVER = date.max.toordinal()


def generate(program: Program, n: int, seed: int, periods: Sequence[Period]) -> DemoData:
    """All demo rows for ``n`` partners, deterministic for ``seed`` (no database)."""
    rng = np.random.default_rng(seed)
    region = rng.choice(len(REGIONS), n, p=REGION_WEIGHTS)
    ptype = rng.choice(len(PARTNER_TYPES), n, p=TYPE_WEIGHTS)
    parent = _hierarchy(rng, n)
    has_parent = parent >= 0
    # subsidiaries mostly share their parent's business model
    same = has_parent & (rng.random(n) < 0.7)
    for _ in range(3):  # parents first, then deeper levels inherit the settled value
        ptype = np.where(same, ptype[np.maximum(parent, 0)], ptype)
    country, names = _names(rng, region, parent)
    manager_pick = rng.integers(0, 10, n)
    manager = [ACCOUNT_MANAGERS[REGIONS[r]][m] for r, m in zip(region.tolist(), manager_pick.tolist())]

    # latent size, quality and trend; t = -1 is the quarter before the first (sets the tier on record)
    mu = np.array([11.6, 11.4, 11.3, 12.9])[ptype] + 0.35 * (parent < 0) * np.isin(np.arange(n), parent)
    log_size = rng.normal(mu, 1.05)
    quality = 0.3 * (log_size - mu) + 0.95 * rng.normal(0, 1, n)
    trend = rng.choice([-1, 0, 1], n, p=[0.25, 0.47, 0.28])
    growth = np.select(
        [trend > 0, trend < 0],
        [rng.uniform(0.03, 0.10, n), rng.uniform(-0.15, -0.05, n)],
        rng.normal(0.0, 0.015, n),
    )
    k = len(periods) + 1
    t = np.arange(-1, k - 1)[:, None]  # (k, 1)
    season = np.array([0.92, 1.0, 0.97, 1.12])[[(p.start.month - 1) // 3 for p in _with_previous(periods)]]
    revenue = np.exp(log_size + growth * t + rng.normal(0, 0.12, (k, n))) * season[:, None]
    share_a = np.array([1.5, 6.0, 4.0, 1.0])[ptype]
    share_b = np.array([8.0, 4.0, 5.0, 12.0])[ptype]
    cloud_share = rng.beta(share_a, share_b)
    cloud = revenue * cloud_share / 3 * np.exp(0.03 * t)
    deals = rng.poisson(revenue / 30000 * np.exp(0.3 * quality))
    drift = 10 * growth * t
    csat = np.clip(87.5 + 4.5 * quality + (log_size - mu) + drift + rng.normal(0, 2.5, (k, n)), 40, 100)
    ops = np.clip(80 + 7 * quality + drift + rng.normal(0, 3, (k, n)), 0, 100)
    escalations = rng.poisson(1.2 * np.sqrt(revenue / 150000) * np.exp(-0.6 * quality))
    plan_score = (log_size - 11.9) * 1.8 + 0.6 * quality + rng.normal(0, 0.7, n)
    plan = (plan_score > 0) & (rng.random((k, n)) > 0.04)
    demo_kit = (np.log(revenue) + rng.normal(0, 0.5, n) > 12.4) | (rng.random(n) < 0.05)
    demo_kit = np.logical_or.accumulate(demo_kit, axis=0)  # a demo system, once set up, stays
    metrics = {
        "revenue": np.round(revenue),
        "cloud_mrr": np.round(cloud),
        "deal_registrations": deals.astype(np.float64),
        "csat": np.round(csat, 1),
        "ops_score": np.round(ops),
        "escalations": escalations.astype(np.float64),
        "business_plan": plan.astype(np.float64),
        "demo_capability": demo_kit.astype(np.float64),
    }
    # some partners joined during the window; a few went quiet in the last quarters
    start = np.where(rng.random(n) < 0.05, rng.integers(1, k - 1, n), 0)
    stop = np.where(rng.random(n) < 0.01, rng.integers(k - 2, k, n), k)
    absent = (np.arange(k)[:, None] < start) | (np.arange(k)[:, None] >= stop)
    for values in metrics.values():
        values[absent] = np.nan
    # surveys are not run everywhere every quarter: a few partners have no CSAT for a quarter, most
    # often the latest (carried from the quarter before by the program's missing = "previous")
    no_survey = rng.random((k, n)) < np.where(np.arange(k) == k - 1, 0.06, 0.015)[:, None]
    no_survey[0] = False  # the quarter before the window sets the tiers on record
    metrics["csat"][no_survey] = np.nan

    certs = _certifications(rng, n, log_size, mu, ptype, trend, periods)
    data = DemoData(
        ids=[f"P{i:0{max(6, len(str(n)))}d}" for i in range(1, n + 1)],
        names=names,
        region=region,
        country=country,
        ptype=ptype,
        parent=parent,
        manager=manager,
        tier=[None] * n,
        tier_since=[None] * n,
        trend=trend,
        metrics={m: v[1:] for m, v in metrics.items()},
        periods=list(periods),
        **certs,
    )
    _tiers_on_record(rng, program, data, {m: v[:1] for m, v in metrics.items()}, start, periods)
    return data


def _with_previous(periods: Sequence[Period]) -> list[Period]:
    first = periods[0]
    year, quarter = first.start.year, (first.start.month - 1) // 3 + 1
    previous = parse_period(f"{year - 1}-Q4" if quarter == 1 else f"{year}-Q{quarter - 1}")
    return [previous, *periods]


def _hierarchy(rng: np.random.Generator, n: int) -> np.ndarray:
    """~8% parents with 1-6 subsidiaries each; about 1 in 25 parents sits under another (3 levels)."""
    parent = np.full(n, -1, dtype=np.int64)
    count = int(round(0.08 * n))
    if n < 10 or count < 1:
        return parent
    order = rng.permutation(n)
    parents, pool = order[:count], order[count:]
    sizes = rng.integers(1, 7, count)
    total = int(sizes.sum())
    if total > len(pool):
        sizes = np.maximum(1, (sizes * len(pool)) // total)
        total = int(sizes.sum())
    parent[pool[:total]] = np.repeat(parents, sizes)[: len(pool)]
    middle = max(1, count // 25) if count >= 2 else 0
    if middle:
        tops, mids = parents[:-middle], parents[-middle:]
        parent[mids] = rng.choice(tops, middle)
    return parent


def _names(rng: np.random.Generator, region: np.ndarray, parent: np.ndarray) -> tuple[list[str], list[str]]:
    """Countries and company names; a subsidiary carries its parent's name and its own city."""
    n = len(region)
    first = rng.integers(0, len(NAME_FIRST), n).tolist()
    second = rng.integers(0, len(NAME_SECOND), n).tolist()
    u_country, u_legal, u_city = rng.random(n).tolist(), rng.random(n).tolist(), rng.random(n).tolist()
    countries, legal, city = [], [], []
    cumulative = {r: np.cumsum([c[1] for c in COUNTRIES[r]]) for r in REGIONS}
    for i, r in enumerate(region.tolist()):
        options = COUNTRIES[REGIONS[r]]
        pick = min(
            int(np.searchsorted(cumulative[REGIONS[r]], u_country[i] * cumulative[REGIONS[r]][-1])), len(options) - 1
        )
        name, _w, forms, cities = options[pick]
        countries.append(name)
        legal.append(forms[int(u_legal[i] * len(forms))])
        city.append(cities[int(u_city[i] * len(cities))])
    base = [f"{NAME_FIRST[a]} {NAME_SECOND[b]}" for a, b in zip(first, second)]
    # roots first, then each deeper level takes its parent's (already settled) base name
    depth = np.zeros(n, dtype=np.int64)
    cursor = parent.copy()
    while (cursor >= 0).any():
        depth += cursor >= 0
        cursor = np.where(cursor >= 0, parent[np.maximum(cursor, 0)], -1)
    for d in range(1, int(depth.max(initial=0)) + 1):
        for i in np.flatnonzero(depth == d).tolist():
            base[i] = base[parent[i]]
    names = [f"{b} {c}{lf}" if p >= 0 else f"{b}{lf}" for b, c, lf, p in zip(base, city, legal, parent.tolist())]
    return countries, names


def _certifications(rng, n, log_size, mu, ptype, trend, periods) -> dict:
    """People with certifications per track; some expired, some expiring soon, renewals by trend."""
    end = periods[-1].end.toordinal()
    expected = 0.6 + 2.8 * np.exp(0.7 * (log_size - 11.9))
    people = np.minimum(rng.poisson(expected), MAX_PEOPLE)
    owner = np.repeat(np.arange(n), people)
    m = len(owner)
    first_of = np.cumsum(people) - people
    j = np.arange(m) - first_of[owner]  # person number within the partner
    off_first, off_last, off_init = rng.integers(0, 64, n), rng.integers(0, 61, n), rng.integers(0, 19, n)
    fi = (off_first[owner] + 5 * j) % len(PERSON_FIRST)
    li = (off_last[owner] + 7 * j) % len(PERSON_LAST)
    ii = (off_init[owner] + j) % len(INITIALS)
    person = [
        f"{PERSON_FIRST[a]} {INITIALS[c]}. {PERSON_LAST[b]}" for a, b, c in zip(fi.tolist(), li.tolist(), ii.tolist())
    ]
    tracks = list(TRACKS)
    weights = np.array([TRACKS[t][1] for t in tracks])
    # service providers and MSPs train more cloud people
    cloudy = np.isin(ptype[owner], (1, 2))
    w_plain = weights / weights.sum()
    w_cloud = weights * np.array([0.8, 0.8, 2.5, 0.8])
    w_cloud = w_cloud / w_cloud.sum()
    u = rng.random(m)
    primary = np.where(cloudy, np.searchsorted(np.cumsum(w_cloud), u), np.searchsorted(np.cumsum(w_plain), u))
    primary = np.minimum(primary, len(tracks) - 1)
    second = (primary + rng.integers(1, len(tracks), m)) % len(tracks)
    has_second = rng.random(m) < 0.35
    row_person = np.concatenate([np.arange(m), np.flatnonzero(has_second)])
    row_track = np.concatenate([primary, second[has_second]])
    r = len(row_person)
    level_pick = rng.integers(0, 2, r)
    earned = end - rng.integers(5, 2200, r)
    expires = earned + CERT_VALIDITY_DAYS
    lifetime = rng.random(r) < 0.06
    expires = np.where(lifetime, NEVER, expires)
    renew_chance = np.array([0.4, 0.7, 0.85])[trend[owner[row_person]] + 1]
    # Renewals (spec v2 §2): the same person earns the same certification again, a new row with new
    # dates, the old one kept. Some renew up to 90 days before the old one expires, the others up to
    # 60 days after it lapsed; a renewal never lies after the last period's end.
    parts = [(np.arange(r), earned, expires)]
    current, cur_earned, cur_expires = np.arange(r), earned, expires
    for _ in range(3):
        early = rng.random(len(current)) < 0.45
        again = np.where(
            early,
            cur_expires - rng.integers(1, 91, len(current)),
            cur_expires + rng.integers(0, 61, len(current)),
        )
        due = (
            (cur_expires != NEVER)
            & (cur_expires < end + 90)
            & (again <= end - 1)
            & (rng.random(len(current)) < renew_chance[current])
        )
        current, cur_earned = current[due], again[due]
        cur_expires = cur_earned + CERT_VALIDITY_DAYS
        parts.append((current, cur_earned, cur_expires))
    source = np.concatenate([p[0] for p in parts])
    earned = np.concatenate([p[1] for p in parts])
    expires = np.concatenate([p[2] for p in parts])
    row_person, row_track, level_pick = row_person[source], row_track[source], level_pick[source]
    order = np.lexsort((earned, row_track, row_person))
    row_person, row_track, level_pick = row_person[order], row_track[order], level_pick[order]
    earned, expires, source = earned[order], expires[order], source[order]
    renewed = np.zeros(len(source), dtype=bool)
    renewed[:-1] = source[1:] == source[:-1]  # sorted by earned_on within a certification: a later row renews it
    # history older than the window is left out (the learning system's export covers two years)
    keep = ~renewed | (expires >= periods[0].start.toordinal() - 365)
    row_person, row_track, level_pick = row_person[keep], row_track[keep], level_pick[keep]
    earned, expires, renewed = earned[keep], expires[keep], renewed[keep]
    return dict(
        cert_partner=owner[row_person],
        cert_person=[person[p] for p in row_person.tolist()],
        cert_name=[TRACKS[tracks[t]][0][lv] for t, lv in zip(row_track.tolist(), level_pick.tolist())],
        cert_track=[tracks[t] for t in row_track.tolist()],
        cert_earned=earned,
        cert_expires=expires,
        cert_renewed=renewed,
    )


def _tiers_on_record(rng, program: Program, data: DemoData, before: dict[str, np.ndarray], start, periods) -> None:
    """Tier on record = the tier qualified for in the quarter before the window, with some legacy drift."""
    n = len(data.ids)
    previous = _with_previous(periods)[0]
    inputs = Inputs(
        partners=Partners(
            data.ids,
            [REGIONS[r] for r in data.region.tolist()],
            [PARTNER_TYPES[t] for t in data.ptype.tolist()],
            data.parent,
            np.zeros(n, np.int64),
        ),
        periods=[previous],
        metrics={m: np.nan_to_num(v) for m, v in before.items()},
        certifications=CertColumns(
            data.cert_partner, _codes(data.cert_person), data.cert_track, data.cert_earned, data.cert_expires
        ),
    )
    qualified = level(program, inputs)[0].qualified
    drift = rng.random(n)
    top = len(program.tiers) - 1
    tier = np.where(drift < 0.10, np.minimum(qualified + 1, top), qualified)  # kept from an older program
    tier = np.where(drift > 0.97, np.maximum(qualified - 1, 0), tier)  # not re-levelled yet
    since_quarter = rng.integers(0, 4 * (previous.start.year - 2018) + 1, n)
    for i in range(n):
        if start[i] > 0:  # joined during the window: entry tier
            continue
        data.tier[i] = program.tiers[int(tier[i])]
        q = int(since_quarter[i])
        data.tier_since[i] = date(2018 + q // 4, 3 * (q % 4) + 1, 1).isoformat()


def _codes(person: list[str]) -> np.ndarray:
    codes: dict[str, int] = {}
    return np.array([codes.setdefault(p.casefold(), len(codes)) for p in person], dtype=np.int64)


# ------------------------------------------------------------------------------ writing


def _insert(conn: Connection, table: str, columns: dict[str, Iterable]) -> None:
    """Insert rows into ``table``: ``columns`` names each column with its values, in row order."""
    cur = queries.raw_cursor(conn)
    names = ", ".join(columns)
    rows = zip(*columns.values(), strict=False)
    if conn.dialect.name == "postgresql":
        with cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        marks = ", ".join(queries.placeholder(conn) for _ in columns)
        cur.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
    cur.close()


def _write(conn: Connection, data: DemoData) -> tuple[int, int]:
    """Insert partners, metric values and certifications; returns (metric rows, certification rows)."""
    n = len(data.ids)
    _insert(
        conn,
        "partner",
        {
            "key": range(1, n + 1),
            "partner_id": data.ids,
            "name": data.names,
            "region": [REGIONS[r] for r in data.region.tolist()],
            "country": data.country,
            "partner_type": [PARTNER_TYPES[t] for t in data.ptype.tolist()],
            "parent_id": [data.ids[p] if p >= 0 else None for p in data.parent.tolist()],
            "account_manager": data.manager,
            "tier": data.tier,
            "tier_since": data.tier_since,
            "id_sort_key": map(natural_sort_key, data.ids),
            "name_sort_key": map(natural_sort_key, data.names),
        },
    )
    metric_rows = 0
    for k, period in enumerate(data.periods):
        for metric in sorted(data.metrics):
            values = data.metrics[metric][k]
            stored = np.flatnonzero(~np.isnan(values))  # reported zeros too: a 0 flag is "no", not "missing"
            metric_rows += len(stored)
            _insert(
                conn,
                "metric_value",
                {
                    "period": repeat(period.label),
                    "metric": repeat(metric),
                    "partner_key": (stored + 1).tolist(),
                    "value": values[stored].tolist(),
                },
            )
    earned = [date.fromordinal(d).isoformat() for d in data.cert_earned.tolist()]
    expires = [None if d == NEVER else date.fromordinal(d).isoformat() for d in data.cert_expires.tolist()]
    _insert(
        conn,
        "certification",
        {
            "partner_key": (data.cert_partner + 1).tolist(),
            "person": data.cert_person,
            "certification": data.cert_name,
            "track": data.cert_track,
            "earned_on": earned,
            "expires_on": expires,
        },
    )
    if conn.dialect.name == "postgresql":
        queries.execute(conn, "SELECT setval(pg_get_serial_sequence('partner', 'key'), ?)", (n,))
    return metric_rows, len(earned)


# ------------------------------------------------------------------------------ overrides


def _file_overrides(engine: Engine, data: DemoData, seed: int, periods: Sequence[Period]) -> tuple[int, int, int]:
    """About 30 pending requests by two managers, a few approved and rejected by the channel director."""
    rng = np.random.default_rng(seed + 1)
    n = len(data.ids)
    requesters = (ACCOUNT_MANAGERS["NA"][0], ACCOUNT_MANAGERS["EMEA"][2])
    tiers = demo_program().tiers
    ranked = {t: i for i, t in enumerate(tiers)}
    on_record = np.array([ranked[t] if t else 0 for t in data.tier])
    keep = np.flatnonzero((data.trend < 0) & (on_record > 0))  # declining: asks to keep its tier
    raise_ = np.flatnonzero((data.trend > 0) & (on_record < len(tiers) - 1))  # growing: asks one up
    wanted = min(38, max(1, n // 8))
    picks = []
    for pool, kind in ((keep, "keep"), (raise_, "raise")):
        chosen: np.ndarray | list[int] = (
            rng.choice(pool, min(len(pool), wanted // 2 + wanted % 2), replace=False) if len(pool) else []
        )
        picks += [(int(i), kind) for i in chosen]
    picks.sort()
    last, current_start = periods[-1], next_period(periods[-1]).start
    approved_window = (periods[-3].start, last.end + timedelta(days=92))
    counts = [0, 0, 0]
    for number, (i, kind) in enumerate(picks):
        tier = tiers[on_record[i]] if kind == "keep" else tiers[on_record[i] + 1]
        reason = (KEEP_REASONS if kind == "keep" else RAISE_REASONS)[number % 5]
        decision = "approve" if number % 6 == 0 else "reject" if number % 13 == 5 else None
        starts, expires = (
            approved_window if decision else (current_start, None if number % 3 else last.end + timedelta(days=365))
        )
        oid = overrides.request(engine, requesters[number % 2], data.ids[i], tier, reason, starts, expires)
        if decision:
            overrides.decide(
                engine,
                DIRECTOR,
                oid,
                decision == "approve",
                "Agreed at the quarterly review" if decision == "approve" else "Numbers do not support it",
            )
        counts[0 if decision is None else 1 if decision == "approve" else 2] += 1
    return counts[0], counts[1], counts[2]
