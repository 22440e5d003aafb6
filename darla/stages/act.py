"""Stage 2, ``darla act``: an SB3 agent on a frozen vision module, trained in the source domains.

Read top to bottom: check the config, find the vision module, name the run folder, build the
envs (each episode draws one source domain; the target domains never appear here), build or
resume the agent, learn with TensorBoard, evaluation and checkpoints, save, write the manifest.

A run folder ``runs/act/<representation>-<agent>-<key>/`` is keyed by the resolved act config
and the vision model's sha256. A finished one (manifest written last) is reused unless
``force=true``; an unfinished one with a checkpoint is resumed.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from stable_baselines3.common.vec_env import VecTransposeImage

import envs
from darla.agents.algos import (
    get_algo,
    is_recurrent,
    policy_class,
    policy_kwargs,
    policy_spec,
    schedule_follows_total,
)
from darla.agents.augmentation import check_augment_settings
from darla.agents.callbacks import PickupLogger, SourceEvalCallback, TqdmProgress
from darla.agents.checkpoints import (
    CHECKPOINTS,
    STATE_FILE,
    ResumableCheckpoint,
    latest_checkpoint,
    load_state,
)
from darla.agents.encoders import check_image_size, load_encoder, random_encoder
from darla.agents.env import make_vec_env, set_episodes, stack_frames
from darla.agents.loading import (
    AGENT_FILE,
    FORMAT,
    FORMAT_VERSION,
    MODEL_FILE,
    agent_of,
    read_agent_spec,
)
from darla.agents.representations import REPRESENTATIONS, Representation, get_representation
from darla.agents.train_curve import TRAIN_CURVE, write_train_curve
from darla.agents.wrapper import LatentVecEnv
from darla.config import run_key, to_plain
from darla.errors import DarlaError
from darla.io import atomic_path, sha256_file, write_json, write_text
from darla.manifest import (
    Artifact,
    is_finished,
    read_manifest,
    recorded_file,
    verified_file,
    write_manifest,
)
from darla.reuse import RunKey, announce, run_lock
from darla.settings import check_section, whole_number
from darla.stages.see import see_run_dir
from darla.transfer.evaluation import baseline_returns, evaluate_policy
from darla.transfer.policies import AgentPolicy, load_policy
from darla.transfer.rollout import EnvSettings, episode_seeds
from darla.vision import WEIGHTS_NAME, save_model
from darla.vision.code_stats import CODE_STATS, CodeStats, read_code_stats, stats_record
from darla.vision.inference import check_runtime


@dataclass
class ActResult:
    run_dir: Path
    reused: bool
    finished: bool
    num_timesteps: int
    model: Any = None  # the SB3 model when trained in this call (None when reused)


def run_act(
    cfg: Any,
    *,
    vision: Artifact | None = None,
    progress: bool = True,
    callbacks: list | None = None,
) -> ActResult:
    """Run stage 2 for a composed ``act`` config; returns the agent's run folder.

    ``vision``: the vision module's weights as another stage handed them over (``darla run``
    passes ``SeeResult.weights``, digest included); None finds them from ``vision_run=`` or the
    `see` run of the representation's model, and checks them against their run's manifest.

    ``callbacks``: extra SB3 callbacks (a callback that stops training early leaves the run
    unfinished, resumable by the next call).
    """
    cfg = to_plain(cfg)
    act, agent_cfg = cfg["act"], cfg["agent"]
    rep = get_representation(cfg["representation"])
    algo = get_algo(agent_cfg["name"])
    torch.set_num_threads(int(act["threads"]))
    runs_root = Path(cfg["runs_root"])
    source = check_source_domains(act["source_domains"])
    check_act_settings(cfg)
    if rep.mode == "pixels" and act["obs_size"] < 36:
        raise DarlaError(
            f"representation={rep.name} (SB3's NatureCNN) needs frames of at least 36px, got act.obs_size={act['obs_size']}: use 64"
        )

    handed_over = vision is not None
    vision = find_vision(cfg, rep, vision)
    vision_file = None if vision is None else vision.path
    vision_sha = None if vision is None else vision.sha256
    stats_file = find_code_stats(cfg, rep, vision, handed_over)
    label = agent_label(rep, vision_file)
    # pixels_aug's augmentation is in its key; other agents have none, so `augment:` is not
    augment = check_augment_settings(cfg["augment"]) if rep.augments else None
    if augment is not None and augment["rule"] == "drac" and agent_cfg["name"] != "ppo":
        raise DarlaError(
            f"augment.rule=drac regularises PPO's actor-critic, not {agent_cfg['name']}: use "
            "agent=ppo, or augment.rule=rad"
        )
    # Every input but the step count: runs that differ only in it are one agent trained for
    # longer or shorter, so a longer run continues from the last checkpoint of a shorter one.
    base_key = ACT_KEY.key(
        act,
        {k: cfg[k] for k in ("representation", "seed")},
        *([{"augment": augment}] if augment is not None else []),
        # what the agent saw: the source domains' factors (an edited domain is another agent)
        # and every env setting, defaults included
        [envs.resolve_domain(spec)[1] for spec in source],
        envs.env_settings(**env_kwargs(act)),
        agent_cfg,
        {
            "vision_sha256": vision_sha,
            "code_stats_sha256": None if stats_file is None else stats_file.sha256,
        },
    )
    key = run_key(base_key, int(act["total_timesteps"]))
    prefix = f"{label}-{agent_cfg['name']}"
    run_dir = runs_root / "act" / f"{prefix}-{key}"
    stated = {**cfg, "run_key": key, "base_key": base_key, "vision_sha256": vision_sha}
    with run_lock(run_dir):  # a sweep job needing the same agent waits, then reuses it
        if announce(f"act {prefix}", ACT_KEY, run_dir, stated, force=cfg["force"]):
            summary = _evaluate_again_if_asked(run_dir, cfg, source, algo)
            return ActResult(run_dir, True, True, int(summary["num_timesteps"]))
        if cfg["force"] and run_dir.exists():
            shutil.rmtree(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        continuable = not schedule_follows_total(agent_cfg["hyperparams"])
        if latest_checkpoint(run_dir) is None and not cfg["force"] and continuable:
            _continue_shorter_run(run_dir, prefix, base_key, int(act["total_timesteps"]))
        return _train_agent(
            cfg,
            rep,
            algo,
            source,
            run_dir,
            key,
            base_key,
            label,
            vision_file,
            vision_sha,
            stats_file,
            progress,
            callbacks,
        )


def _train_agent(
    cfg: dict[str, Any],
    rep: Representation,
    algo: Any,
    source: list[Any],
    run_dir: Path,
    key: str,
    base_key: str,
    label: str,
    vision_file: Path | None,
    vision_sha: str | None,
    stats_file: Artifact | None,
    progress: bool,
    callbacks: list | None,
) -> ActResult:
    """Build (or resume) the agent in ``run_dir`` and train it to ``act.total_timesteps``."""
    act, agent_cfg = cfg["act"], cfg["agent"]
    encoder = code_stats = None
    if rep.name == "random":
        # Saved into the run so load_agent (and the transfer stage) carries the same weights.
        rnd = act["random_encoder"]
        encoder = random_encoder(
            int(cfg["seed"]), int(act["obs_size"]), int(rnd["latent_dim"]), int(rnd["hidden_dim"])
        )
        vision_file = run_dir / "random_encoder" / WEIGHTS_NAME
        if not vision_file.is_file():
            save_model(encoder, vision_file.parent)
        vision_sha = sha256_file(vision_file)
    elif rep.mode == "latent":
        encoder = load_encoder(vision_file, cfg["device"])
        if stats_file is not None:  # checked against its run's manifest by find_code_stats
            code_stats = read_code_stats(stats_file.path, int(encoder.latent_dim))
    if encoder is not None:
        check_image_size(
            encoder, (act["obs_size"], act["obs_size"], 3), f"of representation={rep.name}"
        )

    if rep.mode != "latent" and "buffer_size" in agent_cfg["hyperparams"]:
        frames = 3 * int(act["frame_stack"]) * act["obs_size"] ** 2
        gb = 2 * agent_cfg["hyperparams"]["buffer_size"] * frames / 1e9
        print(
            f"act: warning: {agent_cfg['name']} on representation={rep.name} stores frames, not "
            f"latents: its replay buffer needs ~{gb:.1f} GB (lower agent.hyperparams.buffer_size if short)"
        )
    spec = policy_spec(
        rep.mode,
        agent_cfg["policy"],
        None if vision_file is None else str(vision_file.resolve()),
        recurrent=is_recurrent(agent_cfg["name"]),
        augment=check_augment_settings(cfg["augment"]) if rep.augments else None,
    )
    run_config = {
        **cfg,
        "run_key": key,
        "base_key": base_key,
        "vision_file": None if vision_file is None else str(vision_file),
        "vision_sha256": vision_sha,
    }
    write_text(run_dir / "config.yaml", yaml.safe_dump(run_config, sort_keys=False))
    _write_agent_spec(
        run_dir, rep, agent_cfg["name"], act, spec, vision_file, vision_sha, encoder, code_stats
    )

    venv = make_vec_env(
        source, int(act["n_envs"]), int(cfg["seed"]), env_kwargs(act), act["vec_env"]
    )
    venv = agent_view(venv, encoder, int(act["frame_stack"]), code_stats, act["inference"])
    evaluate = SourceEvaluation.of_run(cfg, source, run_dir, encoder)
    try:
        model, resumed = _build_or_resume(algo, run_dir, venv, spec, agent_cfg, cfg, act)
        total = int(act["total_timesteps"])
        steps_done = model.num_timesteps
        if steps_done:
            print(f"act: resuming {run_dir} at step {steps_done}/{total}")
        checkpoint = ResumableCheckpoint(run_dir, int(act["checkpoint_every"]))
        hooks = [
            PickupLogger(),
            SourceEvalCallback(evaluate, int(act["eval_every"]), str(run_dir)),
            checkpoint,
            *(callbacks or []),
        ]
        if progress:
            hooks.append(TqdmProgress(total, f"{label}-{agent_cfg['name']}"))
        if total > steps_done:
            model.learn(
                total - steps_done,
                callback=hooks,
                log_interval=int(agent_cfg["log_interval"]),
                tb_log_name=agent_cfg["name"],
                reset_num_timesteps=not resumed,
            )
        if model.num_timesteps < total:  # stopped early by a callback: resumable, not finished
            return ActResult(run_dir, False, False, model.num_timesteps, model)
        with atomic_path(run_dir / MODEL_FILE) as tmp:
            model.save(tmp)
        summary = _summary(evaluate(model, blind=True), int(model.num_timesteps), act)
    finally:
        venv.close()
    write_json(run_dir / "summary.json", summary)
    write_train_curve(
        run_dir / "evaluations.npz",
        run_dir / TRAIN_CURVE,
        f"{run_dir.name}: source-domain evaluations ({summary['eval_episodes']} episodes per "
        "domain)",
    )
    # the last checkpoint stays, so that a longer run of the same agent continues from it
    # (exactly, mid-episode too); an agent that cannot continue drops its checkpoints
    if not schedule_follows_total(agent_cfg["hyperparams"]):
        checkpoint.model, checkpoint.keep = model, 1  # (set by learn, unless resumed at the end)
        checkpoint.save(model.num_timesteps)
    else:
        shutil.rmtree(run_dir / CHECKPOINTS, ignore_errors=True)
    inputs = {"vision_sha256": vision_sha} if vision_sha else {}
    write_manifest(run_dir, stage="act", config=run_config, inputs=inputs)
    print(
        f"act: trained {run_dir} ({summary['num_timesteps']} steps; source eval: normalised "
        f"score {_shown(summary['mean_score'])}, return {summary['mean_return']:.2f}, good "
        f"{summary['mean_good_pickups']:.2f}, bad {summary['mean_bad_pickups']:.2f} per episode; "
        f"played blind {_shown(summary['blind_share'])})"
    )
    return ActResult(run_dir, False, True, int(model.num_timesteps), model)


@dataclass
class SourceEvaluation:
    """act's evaluation: ``act.eval_episodes`` episodes per source domain on the seeds
    ``darla transfer`` draws from ``act.eval_seed``, with transfer's rollout loop and action rule
    (:mod:`darla.transfer.evaluation`), beside the random and reference policies' returns on the
    same episodes (measured once per run and kept in its folder). Called with the SB3 model being
    trained, it evaluates the policy as it stands."""

    domains: list[tuple[str, dict[str, str]]]
    seeds: list[int]
    settings: EnvSettings
    deterministic: bool
    baselines: dict[str, dict[str, float]]
    run_dir: Path
    cfg: dict[str, Any]
    encoder: Any

    @classmethod
    def of_run(
        cls, cfg: dict[str, Any], source: list[Any], run_dir: Path, encoder: Any
    ) -> SourceEvaluation:
        act = cfg["act"]
        domains = [envs.resolve_domain(spec) for spec in source]
        seeds = episode_seeds(int(act["eval_seed"]), int(act["eval_episodes"]))
        env = tuple(sorted((act.get("env") or {}).items()))
        settings = EnvSettings(int(act["obs_size"]), int(act["episode_steps"]), env)
        path = run_dir / EVAL_BASELINES
        stored = json.loads(path.read_text()) if path.is_file() else {}
        if stored.get("seeds") != seeds:  # new, or evaluated on other episodes before
            stored = {"seeds": seeds, **baseline_returns(domains, seeds, settings)}
            write_json(path, stored)
        baselines = {k: stored[k] for k in ("random", "reference")}
        deterministic = bool(act["eval_deterministic"])
        return cls(domains, seeds, settings, deterministic, baselines, run_dir, cfg, encoder)

    def policy(self, policy: Any, *, blind: bool = False) -> dict[str, Any]:
        """A transfer policy (a loaded agent) on the evaluation episodes; ``blind`` adds the
        blind diagnostic (the final evaluation's)."""
        return evaluate_policy(
            policy, self.domains, self.seeds, self.settings,
            deterministic=self.deterministic, baselines=self.baselines, blind=blind,
        )  # fmt: skip

    def __call__(self, model: Any, *, blind: bool = False) -> dict[str, Any]:
        spec = read_agent_spec(self.run_dir)
        inference = self.cfg["act"]["inference"]
        agent = agent_of(self.run_dir, spec, model.policy, self.encoder, inference)
        return self.policy(AgentPolicy(agent, self.run_dir, self.cfg), blind=blind)


# Under each agent run: the random and reference policies' returns on its evaluation episodes.
EVAL_BASELINES = "eval_baselines.json"


def _summary(result: dict[str, Any], num_timesteps: int, act: dict[str, Any]) -> dict[str, Any]:
    """``summary.json``: the final evaluation, overall and per source domain."""
    scores = [s for s in result["scores"] if s is not None and np.isfinite(s)]
    return {
        "num_timesteps": num_timesteps,
        "eval_episodes": int(act["eval_episodes"]),
        "eval_deterministic": bool(act["eval_deterministic"]),
        "eval_seed": int(act["eval_seed"]),
        "mean_return": _mean(result["returns"]),
        "mean_score": _mean(scores) if len(scores) == len(result["scores"]) else None,
        "mean_good_pickups": _mean(result["good_pickups"]),
        "mean_bad_pickups": _mean(result["bad_pickups"]),
        # the share of episodes played with the actions it takes when every frame is blank
        "blind_share": result.get("blind_share"),
        "domains": result["domains"],
    }


def _shown(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def agent_view(
    venv: Any,
    encoder: Any,
    frame_stack: int,
    code_stats: CodeStats | None = None,
    inference: str = "onnx",
) -> Any:
    """The envs as the agent sees them: latents of a frozen encoder run in ``inference``
    (standardised with ``code_stats`` when given) or the frames, the last ``frame_stack`` of
    them side by side (``[K * D]`` floats, or ``[3K, H, W]`` channel-first: SB3 would transpose
    a training env itself, and the eval env must match it)."""
    if encoder is not None:
        return stack_frames(LatentVecEnv(venv, encoder, code_stats, inference), frame_stack)
    return VecTransposeImage(stack_frames(venv, frame_stack))


def _evaluate_again_if_asked(
    run_dir: Path, cfg: dict[str, Any], source: list[Any], algo: Any
) -> dict[str, Any]:
    """A reused agent whose final evaluation used other evaluation settings is evaluated again
    (``summary.json``, the manifest updated); it is not retrained. Its curve stays the one
    recorded while it trained (``act.eval_every`` applies to agents still to train)."""
    summary = _read_summary(run_dir)
    act = cfg["act"]
    asked = {k: act[k] for k in ("eval_episodes", "eval_deterministic", "eval_seed")}
    done = {k: summary.get(k) for k in asked}
    if done == asked:
        return summary
    changed = ", ".join(f"act.{k} {done[k]} -> {asked[k]}" for k in asked if done[k] != asked[k])
    print(f"act: evaluating {run_dir} again ({changed}); its curve stays as recorded")
    # checks model.zip and the vision file against the manifest
    policy = load_policy(run_dir, inference=act["inference"])
    evaluation = SourceEvaluation.of_run(cfg, source, run_dir, policy.agent.encoder)
    summary = _summary(evaluation.policy(policy, blind=True), int(summary["num_timesteps"]), act)
    write_json(run_dir / "summary.json", summary)
    manifest = read_manifest(run_dir)
    config = manifest["config"]
    write_manifest(
        run_dir,
        stage="act",
        config={**config, "act": {**config["act"], **asked}},
        inputs=manifest["inputs"],
    )
    return summary


# An agent run's key: representation, seed, the act settings less these, the source domains'
# factors, every env setting, the agent config and the vision module's sha256.
ACT_KEY = RunKey(
    "act",
    "act",
    ignored={
        "threads": "speed only",
        "vec_env": "speed only (the same episodes in one process or several)",
        "checkpoint_every": "where a killed run resumes from; resume is exact",
        "eval_every": "the evaluation curve only: evaluating never touches training's RNG",
        "eval_episodes": "the evaluations only; a reused agent is evaluated again",
        "eval_deterministic": "the evaluations only; a reused agent is evaluated again",
        "eval_seed": "the evaluations only; a reused agent is evaluated again",
    },
    held_apart={
        "source_domains": "held resolved, as the domains' factors",
        "total_timesteps": "held beside the base key, so a longer run continues a shorter one",
    },
)


def check_act_settings(cfg: dict[str, Any]) -> None:
    """act's numbers, before any folder is made (0 turns evaluations / checkpoints off)."""
    check_section(
        "act",
        cfg["act"],
        whole={
            "obs_size": 8,
            "episode_steps": 1,
            "frame_stack": 1,
            "n_envs": 1,
            "total_timesteps": 1,
            "eval_every": 0,
            "eval_episodes": 1,
            "eval_seed": 0,
            "checkpoint_every": 0,
            "threads": 1,
        },
    )
    check_section(
        "act.random_encoder", cfg["act"]["random_encoder"], whole={"latent_dim": 1, "hidden_dim": 1}
    )
    whole_number("seed", cfg["seed"], 0)
    check_runtime(cfg["act"]["inference"], "act.inference")
    check_augment_settings(cfg["augment"])


def env_kwargs(act: dict[str, Any]) -> dict[str, Any]:
    """The CollectGoodObjects arguments of act's envs: frame size, episode length, ``act.env``."""
    return {
        "obs_size": int(act["obs_size"]),
        "max_episode_steps": int(act["episode_steps"]),
        **(act.get("env") or {}),
    }


def _continue_shorter_run(run_dir: Path, prefix: str, base_key: str, total: int) -> None:
    """Seed a new run folder with the last checkpoint (and evaluations) of the longest finished
    run of the same agent with fewer steps, so extending ``act.total_timesteps`` continues
    training instead of starting again. Only for agents without a schedule over the total (see
    ``schedule_follows_total``): then the continued run equals one trained in one go, and a
    run's numbers never depend on which shorter runs the runs folder happens to hold."""
    best: tuple[Path, dict[str, Any]] | None = None
    for sibling in run_dir.parent.glob(f"{prefix}-*"):
        config = (read_manifest(sibling) or {}).get("config") or {}
        checkpoint = latest_checkpoint(sibling) if config.get("base_key") == base_key else None
        if checkpoint is None or checkpoint["num_timesteps"] >= total or not is_finished(sibling):
            continue
        if best is None or checkpoint["num_timesteps"] > best[1]["num_timesteps"]:
            best = (sibling, checkpoint)
    if best is None:
        return
    sibling, checkpoint = best
    folder = run_dir / CHECKPOINTS
    shutil.copytree(checkpoint["path"], folder / checkpoint["path"].name)
    if (sibling / "evaluations.npz").is_file():
        shutil.copy2(sibling / "evaluations.npz", run_dir / "evaluations.npz")
    shutil.copy2(checkpoint["path"].parent / STATE_FILE, folder / STATE_FILE)  # written last
    print(
        f"act: continuing {sibling} ({checkpoint['num_timesteps']} steps) to {total} steps "
        f"in {run_dir}"
    )


def check_source_domains(domains: list[Any]) -> list[Any]:
    """The source list, refusing a target domain: act must never see one (zero-shot transfer)."""
    if not domains:
        raise DarlaError(
            "act.source_domains is empty: name at least one source domain, e.g. [A_room1]"
        )
    targets = {name: dict(envs.get_domain(name)) for name in envs.target_domains()}
    for spec in domains:
        try:
            name, factors = envs.resolve_domain(spec)
        except envs.DomainError as error:
            raise DarlaError(str(error)) from error
        clash = (
            name
            if name in targets
            else next((t for t, f in targets.items() if f == dict(factors)), None)
        )
        if clash is not None:
            raise DarlaError(
                f"act.source_domains includes {clash!r}, a TARGET domain: training on it would void the "
                f"zero-shot transfer test; use source domains only ({', '.join(envs.source_domains())})"
            )
    return list(domains)


def find_vision(
    cfg: dict[str, Any], rep: Representation, given: Artifact | None = None
) -> Artifact | None:
    """The vision module a representation uses: ``given``, ``vision_run`` or the matching
    `see` run; the last two are checked against their run's manifest."""
    if rep.mode == "pixels" or rep.name == "random":
        if cfg.get("vision_run") or given is not None:
            raise DarlaError(f"representation={rep.name} uses no vision run: drop vision_run=...")
        return None
    if given is not None or cfg.get("vision_run"):
        vision = given or _check_vision_run(Path(cfg["vision_run"]))
        name = _vision_name(vision.path)
        # darla_ft fine-tunes whichever encoder it is given; a frozen name must match its model
        if rep.mode == "latent" and rep.vision is not None and name != rep.vision:
            raise DarlaError(
                f"vision_run {vision.path.parent} holds a {name} model, not {rep.vision}: use "
                f"representation={name if name in REPRESENTATIONS else 'vision_run'} (or representation=vision_run for any model)"
            )
        return vision
    if rep.vision is None:
        raise DarlaError(
            f"representation={rep.name} needs vision_run=PATH (a finished `darla see` run folder)"
        )
    see_cfg = see_config(cfg, rep.vision)
    run_dir = see_run_dir(see_cfg)
    if run_dir is None or not is_finished(run_dir):
        overrides = " ".join(
            [
                f"vision={rep.vision}",
                *cfg.get("see_overrides", []),
                *([f"runs_root={cfg['runs_root']}"] if cfg["runs_root"] != "runs" else []),
            ]
        )
        where = f" (expected {run_dir})" if run_dir is not None else ""
        raise DarlaError(
            f"no finished vision run for representation={rep.name}{where}: make it with "
            f"`darla see {overrides}`, or pass vision_run=PATH"
        )
    return verified_file(run_dir, WEIGHTS_NAME)


def find_code_stats(
    cfg: dict[str, Any], rep: Representation, vision: Artifact | None, handed_over: bool
) -> Artifact | None:
    """The code statistics a frozen module's latents are standardised with
    (``act.standardise_codes``): the vision run's ``code_stats.json`` beside its weights,
    checked against that run's manifest as the weights were (``handed_over``: by ``darla run``,
    which recorded both). None when codes stay raw: the setting is off, or no vision run (pixels,
    the random encoder) or a fine-tuned encoder."""
    if not cfg["act"]["standardise_codes"] or rep.mode != "latent" or vision is None:
        return None
    folder = vision.path.parent
    if not (folder / CODE_STATS).is_file():
        raise DarlaError(
            f"vision run {folder} has no {CODE_STATS} (it predates standardised codes): re-run "
            "the `darla see ...` command that made it with --force, or pass "
            "act.standardise_codes=false to train on its raw codes"
        )
    return (recorded_file if handed_over else verified_file)(folder, CODE_STATS)


def see_config(cfg: dict[str, Any], vision: str) -> dict[str, Any]:
    """The `see` config that made this representation's vision run: see's defaults with
    ``vision=``, this act run's ``runs_root`` and the ``see_overrides`` given to act."""
    from darla.config import compose

    overrides = [f"vision={vision}", f"runs_root={cfg['runs_root']}", *cfg.get("see_overrides", [])]
    return to_plain(compose("see", overrides))


def _check_vision_run(path: Path) -> Artifact:
    """A vision run a user named: finished, and its weights as its manifest recorded them."""
    if path.suffix == ".safetensors":
        folder, file = path.parent, path
    else:
        folder, file = path, path / WEIGHTS_NAME
    if not folder.exists():
        raise DarlaError(
            f"vision_run {path} does not exist: pass a finished `darla see` run folder (runs/see/<name>-<key>)"
        )
    if not file.is_file() or not is_finished(folder):
        raise DarlaError(
            f"vision_run {path} is not a finished `darla see` run (no {WEIGHTS_NAME} or no finished "
            "manifest.json): let `darla see` finish (re-run it to resume) or pick another run"
        )
    return verified_file(folder, file.name)


def agent_label(rep: Representation, vision_file: Path | None) -> str:
    """What an agent's folder and report rows are called: the representation, or for
    ``representation=vision_run`` the vision model's name (``factor_vae``)."""
    return _vision_name(vision_file) if rep.name == "vision_run" else rep.name


def _vision_name(file: Path) -> str:
    from darla.vision import read_config

    return read_config(file)["name"]


def _write_agent_spec(
    run_dir, rep, algo_name, act, spec, vision_file, vision_sha, encoder, code_stats=None
) -> None:
    vision = None
    if vision_file is not None:
        vision = {
            "path": str(vision_file.resolve()),
            "relative_path": os.path.relpath(vision_file.resolve(), run_dir.resolve()),
            "sha256": vision_sha,
        }
    if code_stats is not None:  # the agent's input, reproducible without the see folder
        vision["code_stats"] = stats_record(code_stats)
    write_json(
        run_dir / AGENT_FILE,
        {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            # representation=vision_run says which model (factor_vae): transfer's rows are named
            "representation": agent_label(rep, vision_file),
            "mode": rep.mode,
            "algo": algo_name,
            "obs_size": int(act["obs_size"]),
            "latent_dim": None if encoder is None else int(encoder.latent_dim),
            "n_actions": 3,
            "frame_stack": int(act["frame_stack"]),
            "policy": spec,
            "vision": vision,
        },
    )


def _build_or_resume(algo, run_dir: Path, venv, spec, agent_cfg, cfg, act):
    """A fresh SB3 model; resuming, the same fresh model with the last checkpoint's state loaded
    (weights, optimizers, replay buffer, counters, RNGs; each sub-env's current episode replayed
    and the frame stack, monitor and next observations, LSTM states included, set as saved),
    so nothing is unpickled and the run goes on mid-episode as it would have."""
    checkpoint = latest_checkpoint(run_dir)
    set_episodes(venv, 0)
    model = algo(
        policy_class(algo, spec["policy"]),
        venv,
        seed=int(cfg["seed"]),
        device=cfg["device"],
        tensorboard_log=str(run_dir / "tb"),
        policy_kwargs=policy_kwargs(spec),
        verbose=0,
        **agent_cfg["hyperparams"],
    )
    if checkpoint is None:
        return model, False
    load_state(model, checkpoint["path"])  # replays the envs to where the checkpoint saw them
    return model, True


def _read_summary(run_dir: Path) -> dict[str, Any]:
    import json

    path = run_dir / "summary.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _mean(values) -> float:
    return float(sum(values) / len(values)) if len(values) else float("nan")
