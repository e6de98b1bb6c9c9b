"""``python -m training retrain``: one run of the automated lifecycle (what the CronJob runs).

1. A challenger on trial is judged on live traffic (:mod:`training.compare` over
   what the sink stored since it became challenger): better → champion (with
   ``lifecycle.promotion: approval``, only once a person passed ``--approve``),
   worse → retired, not enough evidence yet → it stays, and this run trains
   nothing (one challenger at a time).
2. The drift of the champion's recent traffic is measured against its reference.
3. A candidate is trained on fresh labelled tickets (``data`` in the config,
   e.g. the sink's labels view) without the evaluation tickets, then it and the
   champion answer the same evaluation set (frozen golden file + recently
   corrected tickets) and the promotion gate (:mod:`training.gate`) decides:
   passed → challenger (the first version ever becomes champion), refused →
   it stays an unused version folder.

Every decision is logged with its numbers and appended to the registry's HISTORY.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from stream.inference.exceptions import PromotionRefusedError
from stream.inference.predictor import Predictor
from stream.inference.registry import CHALLENGER, CHAMPION, Registry

from .compare import BETTER, WORSE, CompareSettings, compare_arms
from .config import TrainConfig, load_config
from .drift import stored_drift
from .exceptions import ConfigError, NotEnoughDataError
from .gate import GateSettings, evaluate_gate
from .live import Window, connect_sink_tables, read_live
from .prepare import prepare
from .sources import LocalFileSource, SnowflakeSource
from .train import load_data, train_version

log = logging.getLogger(__name__)
BY = "retrain"


def evaluation_set(config: TrainConfig) -> pd.DataFrame:
    """Golden file + recently corrected tickets, cleaned like training data (``ticket_id``, ``text``, ``label``)."""
    lc = config.lifecycle
    if not (lc.golden_path or lc.recent_query):
        raise ConfigError("retrain needs an evaluation set: lifecycle.golden_path and/or lifecycle.recent_query")
    frames = []
    if lc.golden_path:
        frames.append(prepare(LocalFileSource(lc.golden_path).batches(), config, progress=False).frame)
    if lc.recent_query:
        source = SnowflakeSource(lc.recent_query, config.data.snowflake.connection, lc.recent_params)
        frames.append(prepare(source.batches(), config, progress=False).frame)
    frame = pd.concat(frames, ignore_index=True).drop_duplicates("text", keep="last").reset_index(drop=True)
    if frame.empty:
        raise NotEnoughDataError("the evaluation set is empty after cleaning (lifecycle.golden_path, recent_query)")
    return frame


def _answers(version_dir: Path, texts: list[str], embedder_dir) -> tuple[list[str], list[bool]]:
    predictor = Predictor.load(version_dir, embedder_dir)
    decisions = predictor.decide(predictor.predict_proba(texts))
    return [d.category for d in decisions], [d.needs_human for d in decisions]


def _gate(registry: Registry, candidate: str, champion: str | None, evaluation: pd.DataFrame,
          config: TrainConfig, embedder_dir):
    """The gate's decision: both versions answer the evaluation tickets through the serving Predictor."""
    settings = GateSettings(**config.lifecycle.gate.model_dump())
    target = config.thresholds.target_precision
    try:
        registry.check(candidate)
    except PromotionRefusedError as exc:
        return evaluate_gate([], [], [], target, (False, str(exc)), None, settings)
    texts, y = evaluation["text"].tolist(), evaluation["label"].tolist()
    preds, abstains = _answers(registry.path(candidate), texts, embedder_dir)
    champion_preds = None if champion is None else _answers(registry.path(champion), texts, embedder_dir)[0]
    return evaluate_gate(y, preds, abstains, target, (True, ""), champion_preds, settings)


def _set_since(registry: Registry, alias: str, version: str) -> datetime | None:
    for entry in reversed(registry.history(alias)):
        if entry.get("version") == version and entry.get("moved", True) and entry["action"] != "unset":
            return datetime.fromisoformat(entry["at"])
    return None


def judge_challenger(registry: Registry, config: TrainConfig, approve: str | None, now: datetime,
                     sink_env=None) -> dict:
    """Promote, retire or keep the challenger on trial; returns the decision with the comparison."""
    champion, challenger = registry.alias_version(CHAMPION), registry.alias_version(CHALLENGER)
    lc = config.lifecycle
    since = _set_since(registry, CHALLENGER, challenger) or Window.last(lc.compare_days, now).since
    window = Window(since, now)
    conn, classified, feedback = connect_sink_tables(sink_env)
    try:
        live = read_live(conn, classified, feedback, window, [champion, challenger])
    finally:
        conn.close()
    report = compare_arms(live.predictions, live.labels, champion, challenger,
                          CompareSettings(alpha=lc.compare_alpha, min_labelled=lc.min_labelled))
    report["window"] = window.as_dict()
    numbers = {"challenger": challenger, "champion": champion, "verdict": report["verdict"],
               "reason": report["reason"], "arms": report["arms"], "paired": report["paired"],
               "unpaired": report["unpaired"], "window": report["window"]}
    if report["verdict"] == BETTER and (lc.promotion == "live" or approve == challenger):
        why = "the live comparison found it better" + (" and a person approved" if approve == challenger else "")
        registry.promote(challenger, reason=why, details=numbers, by=BY)
        registry.unset_alias(CHALLENGER, reason=f"promoted to champion: {why}", by=BY)
        action = "promoted"
    elif report["verdict"] == BETTER:
        registry.record(CHALLENGER, "awaiting_approval", by=BY, details=numbers,
                        reason=f"better on live traffic; promote with `retrain --approve {challenger}`")
        action = "awaiting_approval"
    elif report["verdict"] == WORSE:
        registry.unset_alias(CHALLENGER, reason="the live comparison found it worse", details=numbers, by=BY)
        action = "retired"
    else:
        registry.record(CHALLENGER, "on_trial", reason=f"not enough evidence yet: {report['reason']}",
                        details=numbers, by=BY)
        action = "on_trial"
    log.info("challenger judged", extra={"action": action, **{k: numbers[k] for k in
                                                               ("challenger", "champion", "verdict", "reason")}})
    return {"step": "judge_challenger", "action": action, **numbers}


def champion_drift(registry: Registry, config: TrainConfig, now: datetime, sink_env=None) -> dict | None:
    champion = registry.alias_version(CHAMPION)
    if champion is None:
        return None
    try:
        conn, classified, feedback = connect_sink_tables(sink_env)
        try:
            live = read_live(conn, classified, feedback, Window.last(config.lifecycle.compare_days, now), [champion])
        finally:
            conn.close()
    except Exception as exc:  # noqa: BLE001 - no sink (or none yet): train anyway, and say so
        log.warning("champion drift not measured: the sink's tables cannot be read", extra={"error": str(exc)})
        return {"version": champion, "error": f"the sink's tables cannot be read: {exc}"}
    figures = stored_drift(registry.path(champion), live.predictions)
    log.info("champion drift", extra={"version": champion, **figures})
    return {"version": champion, **figures}


def train_candidate(registry: Registry, config: TrainConfig, evaluation: pd.DataFrame, embedder_dir,
                    drift: dict | None, progress: bool) -> dict:
    """Train, gate and place one candidate; returns the decision with the gate's numbers."""
    prepared = load_data(config, progress)
    held_out = set(evaluation["ticket_id"].dropna().astype(str)) | set(evaluation["text"])
    keep = ~(prepared.frame["ticket_id"].astype(str).isin(held_out) | prepared.frame["text"].isin(held_out))
    prepared.frame = prepared.frame[keep].reset_index(drop=True)
    outcome = train_version(config, registry.root, embedder_dir=embedder_dir, prepared=prepared, progress=progress)
    champion = registry.alias_version(CHAMPION)
    decision = _gate(registry, outcome.version, champion, evaluation, config, embedder_dir)
    details = {"candidate": outcome.version, "champion": champion, "evaluation_tickets": int(len(evaluation)),
               "gate": decision.as_dict(), "drift": drift, "test_metrics": {
                   k: outcome.metrics.get(k) for k in ("accuracy", "macro_f1", "precision_at_2", "coverage")}}
    if decision.passed and champion is None:
        registry.promote(outcome.version, reason=f"first version, gate {decision.summary()}", details=details, by=BY)
        action = "champion"
    elif decision.passed:
        registry.set_alias(CHALLENGER, outcome.version, reason=f"gate {decision.summary()}", details=details, by=BY)
        action = "challenger"
    else:
        registry.record(CHALLENGER, "gate_refused", reason=f"{outcome.version}: gate {decision.summary()}",
                        details=details, by=BY)
        action = "refused"
    log.info("candidate gated", extra={"action": action, "candidate": outcome.version, "champion": champion,
                                        "gate": decision.summary()})
    return {"step": "train_candidate", "action": action, **details}


def retrain(config_path, *, registry_dir=None, embedder_dir=None, approve: str | None = None,
            skip_training: bool = False, progress: bool = True, now: datetime | None = None,
            sink_env=None) -> dict:
    """One lifecycle run; returns every decision and a short ``summary``.

    ``sink_env``: the sink's ``TICKETS_SNOWFLAKE_*`` settings as a mapping (default: the environment).
    """
    from stream.config import Settings
    from stream.inference import language

    settings = Settings.from_env()
    language.configure(settings.languages)
    config = load_config(config_path)
    embedder_dir = embedder_dir or settings.embedder_dir
    registry = Registry(registry_dir or settings.registry_dir, embedder_dir)
    now = now or datetime.now(timezone.utc)
    decisions: list[dict] = []
    if registry.alias_version(CHALLENGER) and registry.alias_version(CHAMPION):
        decisions.append(judge_challenger(registry, config, approve, now, sink_env))
    on_trial = registry.alias_version(CHALLENGER)
    drift = None
    if not skip_training and not on_trial:
        evaluation = evaluation_set(config)  # before training: a config without one fails fast
        drift = champion_drift(registry, config, now, sink_env)
        decisions.append(train_candidate(registry, config, evaluation, embedder_dir, drift, progress))
    lines = [f"{d['step']}: {d['action']} {d.get('candidate') or d.get('challenger')}" for d in decisions]
    if on_trial and not skip_training:
        lines.append(f"no candidate trained: challenger {on_trial} is still on trial")
    aliases = registry.aliases()
    lines.append("aliases: " + ", ".join(f"{k}={v}" for k, v in aliases.items()))
    return {"decisions": decisions, "drift": drift, "aliases": aliases, "summary": "\n".join(lines)}
