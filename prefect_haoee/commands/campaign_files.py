"""The campaign files of a directory, as ``haoee serve`` and ``haoee deploy`` find them.

Every ``*.yaml``/``*.yml`` file of the directory whose top level has a ``prompts`` key is
a campaign file; other YAML files (a ``prefect.yaml``...) are skipped with a note.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from prefect_haoee.campaigns import Campaign, CampaignError, Problem

CAMPAIGN_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class CampaignFile:
    path: Path
    campaign: Campaign


@dataclass
class CampaignScan:
    """The campaign files of a directory, and the YAML files that are not campaigns."""

    found: list[CampaignFile] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)


def scan_campaigns(directory: Path) -> CampaignScan:
    """Load every campaign file of ``directory`` (not recursive), in name order.

    Raises ``CampaignError`` with every problem of every file (and for a missing directory,
    no campaign file, or two files with one campaign name).
    """
    from prefect_haoee.campaigns.loader import parse_campaign, read_campaign_text, read_yaml

    source = str(directory)
    if not directory.is_dir():
        raise CampaignError([Problem(source, "(directory)", "not a directory")])
    scan = CampaignScan()
    problems: list[Problem] = []
    for path in sorted(directory.iterdir()):
        if path.suffix.lower() not in CAMPAIGN_SUFFIXES or not path.is_file():
            continue
        try:
            text = read_campaign_text(path)  # a regular file under the size cap
            if not _looks_like_campaign(text):
                scan.skipped.append(path)
                continue
            campaign = parse_campaign(read_yaml(text, str(path)), str(path), path.parent)
        except CampaignError as exc:
            problems.extend(exc.problems)
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(str(path), "(file)", f"cannot read: {exc}"))
        else:
            scan.found.append(CampaignFile(path, campaign))
    names: dict[str, Path] = {}
    for item in scan.found:
        first = names.setdefault(item.campaign.name, item.path)
        if first != item.path:
            problems.append(
                Problem(
                    str(item.path),
                    "name",
                    f"campaign name {item.campaign.name!r} is also used by {first.name}"
                    " (one deployment per name)",
                )
            )
    if not problems and not scan.found:
        problems.append(
            Problem(source, "(directory)", "no campaign files (*.yaml/*.yml with 'prompts')")
        )
    if problems:
        raise CampaignError(problems)
    return scan


def _looks_like_campaign(text: str) -> bool:
    """A mapping with a ``prompts`` key; YAML that does not parse counts as a (broken)
    campaign so that its syntax error is reported."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return True
    return isinstance(data, dict) and "prompts" in data
