"""Score files: :class:`ScoreSet`, :func:`read_scores`, :func:`write_scores`.

Formats read (``format="auto"`` picks one from the first line):

- ``csv``: a header naming ``score`` and ``label`` (``live``/``attack`` and synonyms such as
  ``bonafide``/``real``/``spoof``/``fake``, or 1/0 where ``label_live_value`` says which
  number means live, default ``"1"``), an id column ``id`` or ``path`` (else row numbers),
  optional ``attack_type``, ``video`` and ``subject``. This is what the engine writes:
  ``id,video,label,attack_type,score``.
- ``bob``: the bob.pad CSV ``claimed_id,test_label,is_bonafide,attack_type,score`` (further
  columns are ignored; ``claimed_id`` is the subject).
- ``bob4`` / ``bob5``: bob's 4-column ``claimed_id real_id test_label score`` and 5-column
  ``claimed_id model_label real_id test_label score`` text files; bona fide iff
  ``claimed_id == real_id``, the PAI species is ``real_id`` otherwise (as bob.pad writes
  them).

  In the three bob formats, when the species column holds one value for every attack (e.g.
  ``attack``, or no ``attack_type`` column) the PAI species is read from the sample path
  (``test_label``): the directory after an ``attack/`` component (``attack/print/x`` ->
  ``print``), where there is one; a species column holding a path is read the same way.
- ``list``: lines ``path score`` joined with a ``labels`` file of lines
  ``path label [attack_type]`` (or lines ``path score label`` without one).

Scores: ``nan`` (any case) is a non-response (ISO/IEC 30107-3; bob.pad writes it for samples
it failed on): kept as NaN and counted as APNRR / BPNRR by the analysis, or refused with
``nan_policy="error"``. ``inf`` / ``-inf`` are valid scores. Every problem raises
:class:`ScoreFileError` naming the file and line.

Length: over the project's ~450-line guide once ruff-formatted, because every score-file
format is read and written here with one error style (:class:`ScoreFileError`, file and
line); a second format family would be the point to split by format.
"""

from __future__ import annotations

import csv
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["ScoreFileError", "ScoreSet", "read_scores", "write_scores"]

LIVE_WORDS = {
    "live",
    "bonafide",
    "bona_fide",
    "bona-fide",
    "bona fide",
    "real",
    "genuine",
    "true",
    "positive",
}
ATTACK_WORDS = {"attack", "spoof", "fake", "false", "pa", "negative", "impostor"}
FORMATS = ("auto", "csv", "bob", "bob4", "bob5", "list")


class ScoreFileError(ValueError):
    """A malformed score file; the message starts with ``path:line:`` (``path:`` when the
    file is missing)."""


class ScoreFileWarning(UserWarning):
    """A score file was read, but something in it deserves a look (repeated ids)."""


@dataclass
class ScoreSet:
    """Scores of one split. ``labels``: 1 = live, 0 = attack; higher score = live unless the
    analysis is told otherwise. ``attack_types`` is "live" on live rows. A NaN score is a
    non-response; ``nonresponses`` adds counts of presentations without a row
    (``{"live": k, "<species>": k}``). ``videos`` / ``subjects`` are the resampling units of
    the bootstrap intervals when present."""

    ids: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    attack_types: np.ndarray | None = None
    videos: np.ndarray | None = None
    name: str = field(default="", compare=False)
    subjects: np.ndarray | None = None
    nonresponses: dict | None = None

    def __post_init__(self):
        self.scores = np.asarray(self.scores, dtype=np.float64).reshape(-1)
        n = self.scores.size
        self.ids = np.asarray(self.ids).astype(str).reshape(-1)
        self.labels = np.asarray(self.labels).astype(np.int64).reshape(-1)
        for name in ("ids", "labels", "attack_types", "videos", "subjects"):
            v = getattr(self, name)
            if v is None:
                continue
            v = np.asarray(v).reshape(-1)
            if name in ("attack_types", "videos", "subjects"):
                v = v.astype(str)
                setattr(self, name, v)
            if v.size != n:
                raise ValueError(f"ScoreSet length mismatch: {n} scores but {v.size} {name}")
        bad = ~np.isin(self.labels, (0, 1))
        if bad.any():
            raise ValueError(
                f"ScoreSet labels must be 1 (live) or 0 (attack); got {self.labels[bad][0]}"
            )
        if self.attack_types is None:
            self.attack_types = np.where(self.labels == 1, "live", "attack")

    def __len__(self) -> int:
        return int(self.scores.size)

    @property
    def live(self) -> np.ndarray:
        return self.scores[self.labels == 1]

    @property
    def attack(self) -> np.ndarray:
        return self.scores[self.labels == 0]

    def nonresponse_counts(self) -> dict:
        """``{"live": k, "<species>": k}``: NaN rows plus ``nonresponses``."""
        nan = np.isnan(self.scores)
        out = {"live": int((nan & (self.labels == 1)).sum())}
        att = nan & (self.labels == 0)
        for ty in np.unique(self.attack_types[att]):
            out[str(ty)] = int((att & (self.attack_types == ty)).sum())
        for k, v in (self.nonresponses or {}).items():
            out[str(k)] = out.get(str(k), 0) + int(v)
        return out

    def subset(self, mask) -> ScoreSet:
        m = np.asarray(mask)
        return ScoreSet(
            self.ids[m],
            self.labels[m],
            self.scores[m],
            None if self.attack_types is None else self.attack_types[m],
            None if self.videos is None else self.videos[m],
            self.name,
            None if self.subjects is None else self.subjects[m],
        )

    def aggregate(self, how: str = "mean", by: str = "video") -> ScoreSet:
        """One row per ``video`` (or ``id``) with the aggregated score (labels must agree; a
        video whose rows are all non-responses stays a non-response)."""
        from fasfast.analysis.metrics import aggregate

        keys = self.videos if by == "video" and self.videos is not None else self.ids
        uniq, agg = aggregate(self.scores, keys, how)
        _, first, inv = np.unique(keys, return_index=True, return_inverse=True)
        inv = inv.reshape(-1)
        lab = self.labels[first]
        if not np.array_equal(lab[inv], self.labels):
            raise ValueError(f"rows of one {by} carry different labels; cannot aggregate")
        return ScoreSet(
            uniq,
            lab,
            agg,
            self.attack_types[first],
            uniq,
            self.name,
            None if self.subjects is None else self.subjects[first],
            self.nonresponses,
        )

    def check_two_classes(self, what: str = "") -> None:
        ok = ~np.isnan(self.scores)
        n_live = int((ok & (self.labels == 1)).sum())
        n_att = int((ok & (self.labels == 0)).sum())
        if n_live == 0 or n_att == 0:
            where = f"{what}: " if what else ""
            nr = int((~ok).sum())
            extra = f"; {nr} non-responses" if nr else ""
            raise ValueError(
                f"{where}only one class present ({n_live} live, {n_att} attack"
                f"{extra}); threshold selection needs both"
            )


def _parse_label(text: str, live_value: str, where: str) -> int:
    t = text.strip().lower()
    if t in LIVE_WORDS:
        return 1
    if t in ATTACK_WORDS:
        return 0
    try:
        v = float(t)
    except ValueError:
        raise ScoreFileError(
            f"{where}: unknown label {text!r} (expected live/attack or 1/0)"
        ) from None
    if v not in (0.0, 1.0):
        raise ScoreFileError(f"{where}: numeric label {text!r} must be 0 or 1")
    lv = str(live_value).strip().lower()
    if lv in LIVE_WORDS:
        lv = "1"
    return 1 if int(v) == int(float(lv)) else 0


def _parse_score(text: str, where: str, nan_policy: str = "nonresponse") -> float:
    try:
        v = float(text)
    except ValueError:
        raise ScoreFileError(f"{where}: score {text!r} is not a number") from None
    if math.isnan(v) and nan_policy == "error":
        raise ScoreFileError(
            f"{where}: score {text!r} is a non-response (NaN) and --nan-policy error refuses it"
        )
    return v


def _first_line(path: Path) -> str:
    with open(path, encoding="utf-8-sig") as f:
        for line in f:
            if line.strip() and not line.lstrip().startswith("#"):
                return line
    raise ScoreFileError(f"{path}:1: file is empty")


def _read_csv(path: Path, live_value: str, bob: bool, nan_policy: str) -> ScoreSet:
    ids, labels, scores, types, videos, subjects = [], [], [], [], [], []
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = csv.reader(f)
        header = None
        for row in rows:
            if not row or not "".join(row).strip():
                continue
            if header is None:
                header = [h.strip().lower() for h in row]
                col = {h: i for i, h in enumerate(header)}
                need = ("test_label", "is_bonafide", "score") if bob else ("label", "score")
                missing = [h for h in need if h not in col]
                if missing:
                    raise ScoreFileError(
                        f"{path}:{rows.line_num}: header lacks column(s) {', '.join(missing)}"
                        f" (found: {', '.join(header)})"
                    )
                id_col = (
                    col.get("test_label")
                    if bob
                    else next(
                        (col[k] for k in ("id", "path", "sample", "file", "filename") if k in col),
                        None,
                    )
                )
                subj_col = next(
                    (col[k] for k in ("subject", "client", "claimed_id") if k in col), None
                )
                continue
            where = f"{path}:{rows.line_num}"
            if len(row) != len(header):
                raise ScoreFileError(f"{where}: expected {len(header)} fields, got {len(row)}")
            if bob:
                lab = _parse_label(row[col["is_bonafide"]], "1", where)
            else:
                lab = _parse_label(row[col["label"]], live_value, where)
            s = _parse_score(row[col["score"]].strip(), where, nan_policy)
            rid = row[id_col].strip() if id_col is not None else f"row{len(ids)}"
            at = row[col["attack_type"]].strip() if "attack_type" in col else ""
            ids.append(rid)
            labels.append(lab)
            scores.append(s)
            types.append("live" if lab == 1 else (at or "attack"))
            videos.append(row[col["video"]].strip() if "video" in col else rid)
            subjects.append(row[subj_col].strip() if subj_col is not None else "")
    if header is None:
        raise ScoreFileError(f"{path}:1: file is empty")
    if not scores:
        raise ScoreFileError(f"{path}:{rows.line_num}: no score rows after the header")
    if not bob:
        _warn_repeated_ids(path, ids, "video" in col)
    else:
        types = _species_from_paths(types, ids, labels)
    return ScoreSet(
        np.array(ids),
        np.array(labels),
        np.array(scores),
        np.array(types),
        np.array(videos),
        name=path.stem,
        subjects=np.array(subjects) if subj_col is not None else None,
    )


def _after_attack(path: str) -> str:
    """The directory after an ``attack`` component of ``path`` ("" when none)."""
    parts = [p for p in path.replace("\\", "/").split("/") if p]
    for j in range(len(parts) - 2):  # a directory: something must follow it
        if parts[j].lower() == "attack":
            return parts[j + 1]
    return ""


def _species_from_paths(types: list, paths: list, labels: list) -> list:
    """bob files: the attacks' PAI species from their paths where the species column holds
    one value for all of them (or a path); see the module docstring."""
    att = [i for i, lab in enumerate(labels) if lab == 0]
    single = len({types[i] for i in att if "/" not in types[i]}) <= 1
    out = list(types)
    for i in att:
        src = types[i] if "/" in types[i] else (paths[i] if single else "")
        sp = _after_attack(src) if src else ""
        if sp:
            out[i] = sp
    return out


def _read_bob_columns(path: Path, n_cols: int, nan_policy: str) -> ScoreSet:
    """bob's 4-column (``claimed_id real_id test_label score``) or 5-column
    (``claimed_id model_label real_id test_label score``) text file."""
    ids, labels, scores, types, subjects = [], [], [], [], []
    with open(path, encoding="utf-8-sig") as f:
        for i, line in enumerate(f, 1):
            tok = line.split()
            if not tok or tok[0].startswith("#"):
                continue
            where = f"{path}:{i}"
            if len(tok) != n_cols:
                raise ScoreFileError(
                    f"{where}: expected {n_cols} columns (bob "
                    f"{n_cols}-column format), got {len(tok)}"
                )
            claimed, real, label = tok[0], tok[n_cols - 3], tok[n_cols - 2]
            lab = 1 if claimed == real else 0
            ids.append(label)
            labels.append(lab)
            scores.append(_parse_score(tok[-1], where, nan_policy))
            types.append("live" if lab else real)
            subjects.append(claimed)
    if not scores:
        raise ScoreFileError(f"{path}:1: no scores in file")
    types = _species_from_paths(types, ids, labels)
    return ScoreSet(
        np.array(ids),
        np.array(labels),
        np.array(scores),
        np.array(types),
        np.array(ids),
        name=path.stem,
        subjects=np.array(subjects),
    )


def _read_list(path: Path, labels_path, live_value: str, nan_policy: str) -> ScoreSet:
    lab_map: dict[str, tuple[int, str]] = {}
    if labels_path is not None:
        lp = Path(labels_path)
        if not lp.is_file():
            raise ScoreFileError(f"{lp}:0: labels file not found")
        with open(lp, encoding="utf-8-sig") as f:
            for i, line in enumerate(f, 1):
                tok = line.split()
                if not tok or tok[0].startswith("#"):
                    continue
                if len(tok) not in (2, 3):
                    raise ScoreFileError(
                        f"{lp}:{i}: expected 'path label [attack_type]', got {len(tok)} fields"
                    )
                lab = _parse_label(tok[1], live_value, f"{lp}:{i}")
                lab_map[tok[0]] = (lab, tok[2] if len(tok) == 3 else "")
    ids, labels, scores, types = [], [], [], []
    with open(path, encoding="utf-8-sig") as f:
        for i, line in enumerate(f, 1):
            tok = line.split()
            if not tok or tok[0].startswith("#"):
                continue
            where = f"{path}:{i}"
            if len(tok) == 3:
                lab, at = _parse_label(tok[2], live_value, where), ""
            elif len(tok) == 2:
                if tok[0] not in lab_map:
                    if labels_path is None:
                        raise ScoreFileError(
                            f"{where}: 'path score' list needs a labels file "
                            "(--labels) or a third column with the label"
                        )
                    raise ScoreFileError(f"{where}: {tok[0]!r} has no label in {labels_path}")
                lab, at = lab_map[tok[0]]
            else:
                raise ScoreFileError(f"{where}: expected 'path score', got {len(tok)} fields")
            ids.append(tok[0])
            labels.append(lab)
            scores.append(_parse_score(tok[1], where, nan_policy))
            types.append("live" if lab == 1 else (at or "attack"))
    if not scores:
        raise ScoreFileError(f"{path}:1: no scores in file")
    types = _species_from_paths(types, ids, labels)
    return ScoreSet(
        np.array(ids),
        np.array(labels),
        np.array(scores),
        np.array(types),
        np.array(ids),
        name=path.stem,
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_scores(
    path: str | os.PathLike,
    format: str = "auto",
    label_live_value: str = "1",
    labels: str | os.PathLike | None = None,
    nan_policy: str = "nonresponse",
) -> ScoreSet:
    """Read a score file into a :class:`ScoreSet`.

    Args:
        path: the score file.  format: "auto" | "csv" | "bob" | "bob4" | "bob5" | "list".
        label_live_value: which numeric label means live ("1" default, or "0").
        labels: for ``list`` files, the ``path label [attack_type]`` file.
        nan_policy: "nonresponse" (NaN scores kept as non-responses) or "error".
    Raises:
        ScoreFileError (a ValueError) with ``path:line:`` for any malformed content.
    """
    from fasfast.analysis._core import NAN_POLICIES, check_choice

    check_choice(nan_policy, NAN_POLICIES, "nan_policy")
    p = Path(path)
    if not p.is_file():
        raise ScoreFileError(f"{p}: score file not found")
    if str(label_live_value).strip().lower() not in {"0", "1"} | LIVE_WORDS:
        raise ValueError(f"label_live_value must be '1' or '0', got {label_live_value!r}")
    check_choice(format, FORMATS, "format")
    try:
        return _read_any(p, format, label_live_value, labels, nan_policy)
    except UnicodeDecodeError as e:
        raise ScoreFileError(
            f"{p}: not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset "
            f"{e.start}); save the score file as UTF-8"
        ) from None


def _read_any(p: Path, format: str, label_live_value: str, labels, nan_policy: str) -> ScoreSet:
    if format == "auto":
        first = _first_line(p).strip().lower()
        tok = first.split()
        if labels is not None:
            format = "list"
        elif "is_bonafide" in first:
            format = "bob"
        elif "," in first and "score" in first:
            format = "csv"
        elif "," not in first and len(tok) in (4, 5) and _is_number(tok[-1]):
            format = f"bob{len(tok)}"
        elif len(tok) in (2, 3) and "," not in first:
            format = "list"
        else:
            raise ScoreFileError(
                f"{p}:1: cannot tell the format: expected a CSV header with "
                "'label' and 'score', a bob.pad CSV, bob's 4- or 5-column "
                "lines, or 'path score' lines"
            )
    if format in ("csv", "bob"):
        return _read_csv(p, label_live_value, format == "bob", nan_policy)
    if format in ("bob4", "bob5"):
        return _read_bob_columns(p, int(format[-1]), nan_policy)
    return _read_list(p, labels, label_live_value, nan_policy)


def _warn_repeated_ids(path: Path, ids: list[str], has_video_column: bool) -> None:
    """One warning when a CSV without a ``video`` column repeats ids (frames of one video
    written with the video's name, or a copy-paste slip): each row stays one presentation
    in the rates, and the bootstrap resamples the rows of one id together."""
    if has_video_column or len(set(ids)) == len(ids):
        return
    counts: dict[str, int] = {}
    for i in ids:
        counts[i] = counts.get(i, 0) + 1
    repeated = [i for i, c in counts.items() if c > 1]
    warnings.warn(
        f"{path}: {len(repeated)} id(s) appear on several rows (e.g. {repeated[0]!r} "
        f"on {counts[repeated[0]]}); each row is scored as one presentation and "
        "the rows of one id are resampled together; to score videos, aggregate "
        "the frames (--aggregate mean)",
        ScoreFileWarning,
        stacklevel=3,
    )


def write_scores(path: str | os.PathLike, scores: ScoreSet) -> Path:
    """Write ``id,video,label,attack_type,score`` (label live/attack; exact float repr; a
    non-response as ``nan``)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    videos = scores.videos if scores.videos is not None else scores.ids
    with open(p, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "video", "label", "attack_type", "score"])
        for i in range(len(scores)):
            w.writerow(
                [
                    scores.ids[i],
                    videos[i],
                    "live" if scores.labels[i] == 1 else "attack",
                    scores.attack_types[i],
                    repr(float(scores.scores[i])),
                ]
            )
    return p
