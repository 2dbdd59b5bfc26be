"""Resuming picks the newest checkpoint that was written whole: a worker killed while saving leaves a newer,
partial folder that the Trainer cannot load."""

from __future__ import annotations

from worker.training.common import last_complete_checkpoint


def test_a_partial_checkpoint_is_passed_over(tmp_path):
    folder = tmp_path / "checkpoints"
    assert last_complete_checkpoint(folder) is None  # no folder yet
    for step, complete in ((5, True), (10, True), (15, False)):
        path = folder / f"checkpoint-{step}"
        path.mkdir(parents=True)
        (path / "adapter_model.safetensors").write_bytes(b"weights")
        if complete:
            (path / "trainer_state.json").write_text("{}")
    assert last_complete_checkpoint(folder) == str(folder / "checkpoint-10")
    ppo = folder / "checkpoint-20"
    ppo.mkdir()
    (ppo / "ppo_state.pt").write_bytes(b"state")
    assert last_complete_checkpoint(folder) == str(ppo)
    (folder / "checkpoint-x").mkdir()  # not a step: ignored
    assert last_complete_checkpoint(folder) == str(ppo)
