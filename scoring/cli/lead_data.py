"""What `leadcal explain` and `leadcal leads` share: the draft and the model it is compared with, scored on the
same leads (optionally one segment value), with the details a rep reads. Not a command itself."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from ..model.config import ScoringConfig, load_config
from .common import CliError, ensure_demo


@dataclass
class LeadData:
    """The draft (``--config``) beside the model it is compared with, on the leads shown."""

    draft: ScoringConfig
    approved: ScoringConfig
    approved_ref: str
    features: object
    """The leads shown (one segment value's with ``--segment``)."""
    all_features: object
    """Every scored lead (to tell a lead outside the segment from an unknown one)."""
    draft_scores: object
    approved_scores: object
    details: object
    """Every shown lead's details (None when not asked for: `explain` reads one lead's)."""
    source: object
    """The open read-only source (closed by ``close``)."""

    def close(self) -> None:
        self.source.close()


def compared_with(args: argparse.Namespace, draft: ScoringConfig) -> tuple[ScoringConfig, str]:
    """``--compare NAME[@V]`` from the store, else the approved model of the draft's name: its champion, else
    its starting point in the store (the shipped default for ``default``), else the draft itself."""
    from ..registry.store import ConfigStore, default_store, parse_ref

    store = ConfigStore(args.store or default_store())
    if args.compare:
        name, version = parse_ref(args.compare)
        if name not in store.models():
            if version is None:  # a model never saved: its approved model is its starting point
                return store.approved_config(name), f"{name} (starting point, never saved)"
            raise CliError(f"--compare {args.compare}: no model {name!r} in the store {store.root}")
        config = store.load(name, version)
        return config, args.compare if version else f"{name}@{store.versions(name)[-1].version}"
    champ = store.champion(draft.name) if draft.name in store.models() else None
    if champ is not None:
        return store.load(draft.name, champ.version), champ.ref
    if (store.root / f"{draft.name}.yaml").exists() or draft.name == "default":
        return store.approved_config(draft.name), f"{draft.name}'s starting point (never approved)"
    return draft, f"{draft.name} itself (no approved version in the store)"


def load_lead_data(args: argparse.Namespace, need_approved: bool = True, need_details: bool = True) -> LeadData:
    """Read the leads once for both models (one extraction when their mappings and windows agree)."""
    from ..data.details import read_details
    from ..data.source import open_source
    from ..model.engine import score

    from ..data.source import SourceError

    draft = load_config(args.config)
    approved, ref = compared_with(args, draft) if need_approved else (draft, "")
    ensure_demo(Path(args.db))
    source = open_source(args.db)
    try:
        try:
            draft_all, approved_all = _extract_both(source, draft, approved)
        except SourceError:
            if args.compare or approved is draft:
                raise
            # the implicit approved model (e.g. the shipped default) does not fit this data: the draft alone
            warn(f"{ref} does not fit {args.db}; comparing {draft.name} with itself (give --compare NAME@V)")
            approved, ref = draft, f"{draft.name} itself ({ref} does not fit this data)"
            draft_all, approved_all = _extract_both(source, draft, approved)
        draft_f, approved_f = draft_all, approved_all
        if args.segment is not None:
            column = draft.source.leads.segment
            if column is None or column not in draft_all.categorical:
                raise CliError(f"--segment {args.segment}: the config maps no segment column (source.leads.segment)")
            cat = draft_all.categorical[column]
            wanted = [i for i, v in enumerate(cat.categories) if str(v) == args.segment]
            if not wanted:
                values = ", ".join(map(str, cat.categories[:20]))
                raise CliError(f"--segment {args.segment}: no lead has this {column} (values: {values})")
            import numpy as np

            mask = np.isin(cat.codes, wanted)
            draft_f = draft_all.subset(mask, keep_events=True)
            approved_f = draft_f if approved_all is draft_all else approved_all.subset(mask, keep_events=True)
        data = LeadData(draft, approved, ref, draft_f, draft_all, score(draft, draft_f), score(approved, approved_f),
                        read_details(source, draft, draft_f) if need_details else None, source)
    except BaseException:
        source.close()
        raise
    return data


def _extract_both(source, draft: ScoringConfig, approved: ScoringConfig):
    """The features of both models: one extraction when their mappings and windows agree."""
    from ..data.extract import extract_features
    from ..model.features import feature_spec, union_spec

    spec = union_spec(feature_spec(draft), feature_spec(approved))
    draft_all = extract_features(source, spec or feature_spec(draft))
    if spec is not None:
        return draft_all, draft_all
    approved_all = extract_features(source, approved, quality=draft_all.quality)
    return draft_all, approved_all


def add_lead_arguments(p: argparse.ArgumentParser) -> None:
    """``--compare``, ``--store`` and ``--segment``, as `explain` and `leads` take them."""
    p.add_argument("--compare", metavar="NAME@V", help="compare with this saved version (default for `leads`: the "
                                                        "approved model of the config's name)")
    p.add_argument("--store", help="config store (default: $LEADCAL_STORE or data/configs)")
    p.add_argument("--segment", metavar="VALUE", help="only the leads of this value of the segment column, "
                                                      "as the app's segment filter")


def warn(message: str) -> None:
    print(f"note: {message}", file=sys.stderr)
