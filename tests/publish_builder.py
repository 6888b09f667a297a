"""A levelled Mitel 2014 fixture database with partner contacts, for publishing, reports and notify."""

from __future__ import annotations

import csv
from pathlib import Path

from tiertui.services import programs
from tiertui.services.imports import import_file
from tiertui.services.levelling import run_levelling

ROOT = Path(__file__).resolve().parent.parent
MITEL = ROOT / "fixtures" / "programs" / "mitel_2014_na"
MITEL_PROGRAM = ROOT / "fixtures" / "programs" / "mitel_2014_na.toml"

# partner -> (contact name, contact e-mail); M5 has no address. Managers are e-mail addresses
# here so that their digests can be delivered; Dana's partners M1, M2, M5, Sam's M3, M4.
CONTACTS = {
    "M1": ("Nia Walker", "nia@northwind.example"),
    "M2": ("Olu Ade", "olu@northwind-ottawa.example"),
    "M3": ("Cleo Park", "cleo@cloudline.example"),
    "M4": ("Bo Tran", "bo@bayside.example"),
    "M5": ("", ""),
}
MANAGERS = {"Dana Scully": "dana@channel.example", "Sam Reyes": "sam@channel.example"}


def partners_csv(folder: Path, rename: dict[str, str] | None = None) -> Path:
    """The fixture's partners with contact columns; ``rename``: partner_id -> another name."""
    with open(MITEL / "partners.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    target = folder / "partners_contacts.csv"
    with open(target, "w", newline="", encoding="utf-8") as f:
        fields = [*rows[0].keys(), "contact_name", "contact_email"]
        writer = csv.DictWriter(f, fields)
        writer.writeheader()
        for row in rows:
            row["contact_name"], row["contact_email"] = CONTACTS[row["partner_id"]]
            row["account_manager"] = MANAGERS[row["account_manager"]]
            if rename and row["partner_id"] in rename:
                row["name"] = rename[row["partner_id"]]
            writer.writerow(row)
    return target


def mitel(engine, folder: Path, rename: dict[str, str] | None = None, level: bool = True) -> None:
    programs.load_program_file(engine, MITEL_PROGRAM, "ann")
    import_file(engine, "partners", partners_csv(folder, rename), "ann")
    import_file(engine, "metrics", MITEL / "metrics.csv", "ann")
    import_file(engine, "certifications", MITEL / "certifications.csv", "ann")
    if level:
        run_levelling(engine, "ann")
