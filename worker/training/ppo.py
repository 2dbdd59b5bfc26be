"""Classic RLHF PPO, written out because TRL 1.x dropped its PPOTrainer.

Policy + value head, a frozen reference (always the model the run started from), per-token KL penalty, GAE,
clipped policy and value losses, a few optimisation epochs per batch of rollouts. It shares the request, the
prompt examples, resume and the run record with the TRL-based methods (common.py), not their Trainer.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import torch
import torch.nn.functional as F
from peft import PeftModel
from transformers import get_scheduler

from backend.schemas.job_specs import PPOSpec
from worker.training.common import (
    CHECKPOINT_DIR,
    FINAL_DIR,
    TrainRequest,
    TrainResult,
    resolve_resume,
    write_record,
)
from worker.training.models import load_for_training, load_reference, weights_folder
from worker.training.online_rl import prompt_dataset
from worker.training.reporting import memory_metrics
from worker.training.rewards import build_rewards, weighted_sum

VALUE_HEAD, TRAINER_STATE = "value_head.pt", "ppo_state.pt"
#: prompts per rollout batch for batch_size "auto": this loop has no out-of-memory halving, so it stays modest
AUTO_BATCH = 8


class ValueHead(torch.nn.Module):
    """A scalar per position from the policy's last hidden state (the backbone is shared, so it is cheap)."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(hidden, 1)
        torch.nn.init.zeros_(self.proj.weight)  # start at V=0: early advantages are just rewards
        torch.nn.init.zeros_(self.proj.bias)

    def forward(self, hidden):
        return self.proj(hidden.float()).squeeze(-1)


def forward_stats(model, head, seq, attn, prompt_len: int, *, with_values: bool = True):
    """Log-probs and entropy of each completion token, and the value of the state before it."""
    positions = (attn.cumsum(-1) - 1).clamp(min=0)  # left padding: count positions from the first real token
    out = model(input_ids=seq, attention_mask=attn, position_ids=positions, output_hidden_states=with_values)
    logits = out.logits[:, prompt_len - 1 : -1].float()
    logp_all = F.log_softmax(logits, -1)
    logp = logp_all.gather(-1, seq[:, prompt_len:, None]).squeeze(-1)
    entropy = -(logp_all.exp() * logp_all).sum(-1)
    values = head(out.hidden_states[-1][:, prompt_len - 1 : -1]) if with_values else None
    return logp, entropy, values


def completion_mask(tokens: torch.Tensor, eos_id: int) -> torch.Tensor:
    """1 up to and including the first EOS of each completion."""
    is_eos = (tokens == eos_id).int()
    after_eos = (is_eos.cumsum(-1) - is_eos) > 0
    return (~after_eos).float()


def gae(rewards, values, mask, gamma: float, lam: float):
    """Generalised advantage estimation over completion tokens (masked positions contribute nothing)."""
    adv = torch.zeros_like(rewards)
    last = torch.zeros(rewards.shape[0], device=rewards.device)
    for t in reversed(range(rewards.shape[1])):
        next_value = values[:, t + 1] * mask[:, t + 1] if t + 1 < rewards.shape[1] else 0.0
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        last = (delta + gamma * lam * last) * mask[:, t]
        adv[:, t] = last
    return adv, adv + values


def masked_mean(x, mask):
    return (x * mask).sum() / mask.sum().clamp(min=1)


def whiten(x, mask):
    mean = masked_mean(x, mask)
    var = masked_mean((x - mean) ** 2, mask)
    return (x - mean) * torch.rsqrt(var + 1e-8) * mask


class PPORun:
    """One PPO run: models, optimiser, data order; step() is one rollout batch and ppo_epochs updates."""

    def __init__(self, req: TrainRequest, spec: PPOSpec, resume: str | None) -> None:
        self.req, self.spec, t = req, spec, spec.training
        torch.manual_seed(t.seed)
        # a resumed run's policy (full weights or adapter) comes from its checkpoint
        if t.precision == "auto" and not torch.cuda.is_available():
            # this loop runs without autocast: on CPU it keeps the fp32 it always had rather than a bf16 base
            spec = spec.model_copy(update={"training": t.model_copy(update={"precision": "fp32"})})
        self.loaded = load_for_training(resume or req.model_path, spec)
        req.reporter.log_event(self.loaded.precision_reason)
        self.policy, self.tok = self.loaded.model, self.loaded.tokenizer
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.policy.to(self.device)
        self.head = ValueHead(self.policy.config.hidden_size).to(self.device)
        # The KL reference is the model the run started from, on resume too. With an adapter it is the same
        # weights with the adapter off; full fine-tuning needs a frozen copy of the starting model.
        self.reference = (
            None if isinstance(self.policy, PeftModel) else load_reference(req.model_path).to(self.device)
        )
        self.data = prompt_dataset(req.train_rows, self.tok, spec)
        fns, weights = build_rewards(spec.rewards, req.reward_model_paths, req.classifier_paths)
        self.reward = weighted_sum(fns, weights)
        self.batch = AUTO_BATCH if t.batch_size == "auto" else t.batch_size  # prompts per rollout batch
        per_epoch = math.ceil(len(self.data) / self.batch)
        self.total = t.max_steps or max(1, math.ceil(t.num_epochs * per_epoch))
        params = [p for p in self.policy.parameters() if p.requires_grad] + list(self.head.parameters())
        self.opt = torch.optim.AdamW(params, lr=t.learning_rate, weight_decay=t.weight_decay)
        self.sched = get_scheduler(
            t.lr_scheduler,
            self.opt,
            num_warmup_steps=int(t.warmup_ratio * self.total),
            num_training_steps=self.total,
        )
        self.step_no = 0
        if resume:
            state = torch.load(Path(resume) / TRAINER_STATE, weights_only=False)
            self.head.load_state_dict(state["head"])
            self.opt.load_state_dict(state["opt"])
            self.sched.load_state_dict(state["sched"])
            self.step_no = state["step"]
            random.setstate(state["py_rng"])
            torch.set_rng_state(state["torch_rng"])

    def ref_logp(self, seq, attn, prompt_len):
        with torch.no_grad():
            if self.reference is None:
                with self.policy.disable_adapter():
                    return forward_stats(self.policy, self.head, seq, attn, prompt_len, with_values=False)[0]
            return forward_stats(self.reference, self.head, seq, attn, prompt_len, with_values=False)[0]

    @torch.no_grad()
    def rollout(self, rows: list[dict]):
        s = self.spec
        rows = [r for r in rows for _ in range(s.num_generations)]
        self.tok.padding_side = "left"  # generation continues from the right edge
        enc = self.tok(
            [r["prompt"] for r in rows], return_tensors="pt", padding=True, add_special_tokens=False
        ).to(self.device)
        self.policy.eval()
        seq = self.policy.generate(
            **enc,
            do_sample=True,
            temperature=s.temperature,
            top_k=0,
            top_p=1.0,
            max_new_tokens=s.max_completion_length,
            pad_token_id=self.tok.pad_token_id,
            eos_token_id=self.tok.eos_token_id,
        )
        prompt_len = enc.input_ids.shape[1]
        mask = completion_mask(seq[:, prompt_len:], self.tok.eos_token_id)
        attn = torch.cat([enc.attention_mask, mask.long()], 1)
        texts = self.tok.batch_decode(seq[:, prompt_len:], skip_special_tokens=True)
        extra = {k: [r[k] for r in rows] for k in ("answer", "plain_prompt")}
        scores = torch.tensor(self.reward([r["prompt"] for r in rows], texts, **extra), device=self.device)
        logp, _, values = forward_stats(self.policy, self.head, seq, attn, prompt_len)
        ref = self.ref_logp(seq, attn, prompt_len)
        kl = (logp - ref) * mask
        # per-token reward: KL penalty everywhere, the sequence score on the last real token
        rewards = -s.kl_coef * kl
        last = (mask.sum(-1).long() - 1).clamp(min=0)
        rewards[torch.arange(len(rows)), last] += scores
        adv, returns = gae(rewards, values * mask, mask, s.gamma, s.lam)
        return {
            "seq": seq,
            "attn": attn,
            "prompt_len": prompt_len,
            "mask": mask,
            "logp": logp,
            "values": values * mask,
            "adv": whiten(adv, mask),
            "returns": returns,
            "scores": scores,
            "kl": kl.sum(-1),
        }

    def update(self, r) -> dict[str, float]:
        """ppo_epochs passes over the rollout batch with the clipped objectives."""
        s, mask = self.spec, r["mask"]
        self.policy.train()
        for _ in range(s.ppo_epochs):
            logp, entropy, values = forward_stats(
                self.policy, self.head, r["seq"], r["attn"], r["prompt_len"]
            )
            ratio = torch.exp(logp - r["logp"])
            pg = masked_mean(
                torch.max(-r["adv"] * ratio, -r["adv"] * ratio.clamp(1 - s.cliprange, 1 + s.cliprange)),
                mask,
            )
            v_clipped = r["values"] + (values - r["values"]).clamp(-s.cliprange_value, s.cliprange_value)
            vf = 0.5 * masked_mean(
                torch.max((values - r["returns"]) ** 2, (v_clipped - r["returns"]) ** 2), mask
            )
            loss = pg + s.vf_coef * vf
            self.opt.zero_grad()
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(
                [p for g in self.opt.param_groups for p in g["params"]],
                s.training.max_grad_norm,
            )
            self.opt.step()
        self.sched.step()
        return {
            "loss": loss.item(),
            "policy_loss": pg.item(),
            "value_loss": vf.item(),
            "entropy": masked_mean(entropy, mask).item(),
            "grad_norm": float(grad_norm),
            "clip_fraction": masked_mean(((ratio - 1).abs() > s.cliprange).float(), mask).item(),
        }

    def step(self) -> dict[str, float]:
        per_epoch = math.ceil(len(self.data) / self.batch)
        epoch, i = divmod(self.step_no, per_epoch)
        order = list(range(len(self.data)))
        random.Random(self.spec.training.seed + epoch).shuffle(order)  # data order is a function of step
        rows = [self.data[j] for j in order[i * self.batch : (i + 1) * self.batch]]
        rollout = self.rollout(rows)
        metrics = self.update(rollout)
        self.step_no += 1
        return {
            **metrics,
            "reward": rollout["scores"].mean().item(),
            "reward_std": rollout["scores"].std().item(),
            "kl": rollout["kl"].mean().item(),
            "learning_rate": self.sched.get_last_lr()[0],
            "completion_length": rollout["mask"].sum(-1).mean().item(),
            **memory_metrics(),
        }

    def save(self, dest: Path, *, trainer_state: bool) -> None:
        self.policy.save_pretrained(dest)
        self.tok.padding_side = "right"
        self.tok.save_pretrained(dest)
        torch.save(self.head.state_dict(), dest / VALUE_HEAD)
        if trainer_state:
            torch.save(
                {
                    "head": self.head.state_dict(),
                    "opt": self.opt.state_dict(),
                    "sched": self.sched.state_dict(),
                    "step": self.step_no,
                    "py_rng": random.getstate(),
                    "torch_rng": torch.get_rng_state(),
                },
                dest / TRAINER_STATE,
            )


def _keep_last_checkpoints(folder: Path, keep: int) -> None:
    for old in sorted(folder.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))[:-keep]:
        for f in old.iterdir():
            f.unlink()
        old.rmdir()


def train_ppo(req: TrainRequest, spec: PPOSpec) -> TrainResult:
    """Run PPO to spec; checkpoints (policy, value head, optimiser, step) follow save_steps and pauses."""
    out = Path(req.output_dir)
    run = PPORun(req, spec, resolve_resume(req))
    t, metrics = spec.training, {}
    is_adapter = run.loaded.adapter != "none"
    req.reporter.set_progress(run.step_no, run.total)
    while run.step_no < run.total:
        metrics = run.step()
        if run.step_no % t.logging_steps == 0:
            req.reporter.log_metrics(run.step_no, metrics)
        req.reporter.set_progress(run.step_no, run.total)
        stop = req.reporter.should_stop()
        if run.step_no % t.save_steps == 0 or stop == "pause":
            ckpt = out / CHECKPOINT_DIR / f"checkpoint-{run.step_no}"
            run.save(ckpt, trainer_state=True)
            _keep_last_checkpoints(out / CHECKPOINT_DIR, t.save_total_limit)
        if stop in ("pause", "cancel"):
            status = "paused" if stop == "pause" else "cancelled"
            req.reporter.log_event(f"training {status} at step {run.step_no}")
            return TrainResult(
                status, out, None, is_adapter, run.step_no, metrics, ckpt if stop == "pause" else None
            )
    final = out / FINAL_DIR
    run.save(final, trainer_state=False)
    write_record(
        final,
        req,
        metrics=metrics,
        steps=run.step_no,
        is_adapter=is_adapter,
        base_model=weights_folder(req.model_path),
        adapter=run.loaded.adapter,
    )
    return TrainResult("completed", out, final, is_adapter, run.step_no, metrics)
