"""Crashes, preemption and non-finite losses never cost the run."""
import csv
import os
import signal
import subprocess
import sys
import time
import warnings

import pytest
import torch
from safetensors.torch import load_file

from stylenet.training.base import warmup_cosine
from stylenet.training.data import StyleDataModule
from stylenet.training.module import NonFiniteLossError

from conftest import ROOT, compose_config, run_train, tiny_overrides, train_in_process


def _popen(overrides, **kwargs):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "WANDB_MODE": "disabled"}
    return subprocess.Popen([sys.executable, str(ROOT / "train.py"), *overrides], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def _wait_for_step(ckpt, step: int, proc, timeout: float = 180) -> int:
    """The step of ``ckpt`` once it is at least ``step``. Polled every 10 ms, reading the checkpoint only when
    it was rewritten: a tiny run saving every step (the DDP case's two ranks on two busy cores) can take
    several steps in a 100-ms poll, and the SIGKILL tests must land before the last of their 10 steps."""
    deadline, seen = time.time() + timeout, None
    while time.time() < deadline:
        try:
            stat = ckpt.stat()
        except FileNotFoundError:
            stat = None
        if stat is not None and (stat.st_mtime_ns, stat.st_size, stat.st_ino) != seen:
            seen = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
            reached = torch.load(ckpt, map_location="cpu", weights_only=True)["global_step"]
            if reached >= step:
                return reached
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        time.sleep(0.01)
    raise TimeoutError(f"{ckpt} did not reach step {step}")


def _losses(run) -> dict[int, float]:
    with open(run / "logs" / "metrics.csv") as f:
        return {int(r["step"]): float(r["train/total"]) for r in csv.DictReader(f) if r.get("train/total")}


def _config(photos, run, *extra):
    base = [o for o in tiny_overrides(photos, run) if o != "logger=none"]
    return [*base, "trainer.max_steps=10", "trainer.val_check_interval=5", *extra]


ZOO = sorted(p.stem for p in (ROOT / "data" / "styles").glob("*.jpg"))


@pytest.mark.parametrize("styles, saving", [
    ([], ["checkpoint.every_n_steps=1"]),
    ([f"styles=[{','.join(ZOO)}]", "styles_size=32", "data.batch_size=1"], ["checkpoint.every_n_steps=1"]),
    # by the clock alone (every 6 ms here): a CPU run's 1,000-step interval is ~20 minutes
    ([], ["checkpoint.every_n_steps=1000", "checkpoint.every_minutes=0.0001"]),
    # the same under DDP: before, the clock was off there (the ranks must agree on the step to save)
    (["trainer.devices=2"], ["checkpoint.every_n_steps=1000", "checkpoint.every_minutes=0.0001"]),
], ids=["one_style", "ten_styles", "every_minutes", "every_minutes_ddp"])
def test_sigkill_then_resume_matches_an_uninterrupted_run(styles, saving, photos_dir, tmp_path):
    """Ten styles, one photo a step: step k trains style k mod 10, so a resumed run that lost its place
    (killed at step 4-9 of 10) would train other styles than the uninterrupted run and part from it."""
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    ddp = "trainer.devices=2" in styles
    name = f"{len(ZOO)}_styles" if styles and not ddp else "starry_night"
    train = run_train if ddp else train_in_process  # (DDP's launcher starts this script again: a subprocess)
    proc = train(_config(photos_dir, straight, *styles))
    assert proc.returncode == 0, proc.stderr[-3000:]

    proc = _popen(_config(photos_dir, killed, *saving, *styles), start_new_session=True)
    try:
        reached = _wait_for_step(killed / "checkpoints" / "last.ckpt", 4, proc)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # no chance to clean up, for any rank
        except ProcessLookupError:  # (it had ended: _wait_for_step says how)
            pass
        proc.wait(timeout=60)
    assert reached < 10
    resumed = train(_config(photos_dir, killed, "resume=auto", *styles))
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    a = load_file(straight / f"{name}.safetensors")
    b = load_file(killed / f"{name}.safetensors")
    assert not styles or ddp or {v.shape[0] for v in a.values() if v.dim() == 2} == {len(ZOO)}  # per-style norms
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)
    before, after = _losses(straight), _losses(killed)
    with open(killed / "logs" / "metrics.csv") as f:  # the resumed run kept the rows logged before the kill,
        steps = [int(r["step"]) for r in csv.DictReader(f) if r.get("train/total")]  # without doubles
    assert steps == sorted(before) and len(steps) == len(set(steps)), (steps, sorted(before))
    common = sorted(set(before) & set(after) & set(range(reached, 10)))
    assert len(common) >= 3, (before, after)
    for step in common:
        assert after[step] == pytest.approx(before[step], rel=1e-5), step


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_saves_a_checkpoint_and_resume_finishes(signum, photos_dir, tmp_path):
    run = tmp_path / "run"
    proc = _popen(_config(photos_dir, run, "trainer.max_steps=1000", "checkpoint.every_n_steps=3"))
    _wait_for_step(run / "checkpoints" / "last.ckpt", 3, proc)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err[-3000:]
    assert "checkpoint saved to" in err + out
    saved = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)["global_step"]
    assert 3 <= saved < 1000
    proc = train_in_process(_config(photos_dir, run, f"trainer.max_steps={saved + 2}", "resume=auto"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    resumed = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert resumed["global_step"] == saved + 2 and resumed["rng_states"]["torch"].dtype == torch.uint8


@pytest.mark.slow
@pytest.mark.parametrize("devices", [1, 2], ids=["one_process", "ddp_two_ranks"])
def test_sigterm_to_the_whole_process_group_stops_every_rank_at_one_step(devices, photos_dir, tmp_path):
    """SLURM's preemption and scancel, and ``timeout``, signal every process of the job: the loader workers and,
    under DDP, every rank. Before, the workers died of it first and the run with a traceback and no checkpoint;
    and under DDP Lightning's handler (a broadcast inside the signal handler) left the ranks hanging."""
    run = tmp_path / "run"
    overrides = _config(photos_dir, run, "trainer.max_steps=1000", "checkpoint.every_n_steps=3", "data.num_workers=1",
                        f"trainer.devices={devices}")
    proc = _popen(overrides, start_new_session=True)  # its own process group, as a job's
    try:
        _wait_for_step(run / "checkpoints" / "last.ckpt", 3, proc, timeout=300)
        os.killpg(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 143, err[-3000:]
        assert (err + out).count("checkpoint saved to") == 1, err[-3000:]  # rank 0 says it, once
        assert "Traceback" not in err, err[-3000:]
        if devices == 2:
            assert "rank 1: SIGTERM" in err + out, err[-3000:]
        saved = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)["global_step"]
        assert 3 <= saved < 1000
        deadline = time.time() + 30  # no rank or worker is left behind
        while time.time() < deadline:
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("processes of the run are still alive 30 s after it ended")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.parametrize("mode", ["stop", "skip"])
def test_nonfinite_loss(mode, tmp_path, photos_dir):
    from test_module import small_module, trainer

    module = small_module(on_nonfinite=mode)
    real_loss, calls, snapshot = module.perceptual.per_sample, {"n": 0}, {}

    def sometimes_nan(output, content, **kwargs):
        calls["n"] += 1
        terms, per_sample = real_loss(output, content, **kwargs)
        if calls["n"] == 3:  # the third training step
            snapshot.update({k: v.clone() for k, v in module.net.state_dict().items()})
            terms["style"] = terms["style"] * float("nan")
            terms["total"] = terms["content"] + terms["style"] + terms["tv"]
        return terms, per_sample

    module.perceptual.per_sample = sometimes_nan
    dm = StyleDataModule("folder", str(photos_dir), image_size=32, batch_size=2, num_workers=0, val_size=0)
    t = trainer(tmp_path, max_steps=5)
    t.fit(module, datamodule=dm)
    if mode == "stop":
        for key, value in module.net.state_dict().items():  # the bad step did not touch the weights
            assert torch.equal(value, snapshot[key]), key
        with pytest.raises(NonFiniteLossError, match=r"non-finite loss at step 2 \(style\); stopped with the last good weights"):
            module.raise_if_nonfinite(tmp_path / "last.ckpt")
    else:
        assert module.skipped_batches == 1 and t.global_step == 5 and calls["n"] == 5
        module.raise_if_nonfinite(tmp_path / "last.ckpt")
    assert all(torch.isfinite(p).all() for p in module.net.parameters())


def test_checkpoint_writes_are_atomic(tmp_path, monkeypatch):
    from stylenet.training.trainer import AtomicCheckpointIO

    io = AtomicCheckpointIO()
    path = tmp_path / "last.ckpt"
    io.save_checkpoint({"global_step": 1}, path)

    def full_disk(obj, f, *args, **kwargs):
        with open(f, "wb") as handle:
            handle.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError, match="No space"):
        io.save_checkpoint({"global_step": 2}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True)["global_step"] == 1  # the earlier checkpoint is intact
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


def test_resume_auto_finds_this_or_the_newest_sibling_run(tmp_path):
    from stylenet.training.resume import find_resume_checkpoint

    older, newer, fresh = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for run in (older, newer):
        (run / "checkpoints").mkdir(parents=True)
        (run / "checkpoints" / "last.ckpt").write_bytes(b"x")
        time.sleep(0.02)
    assert find_resume_checkpoint("auto", older) == str(older / "checkpoints" / "last.ckpt")
    assert find_resume_checkpoint("auto", fresh) == str(newer / "checkpoints" / "last.ckpt")
    assert find_resume_checkpoint(None, older) is None
    assert find_resume_checkpoint("auto", tmp_path / "empty" / "run") is None


def test_after_a_resume_the_periodic_checkpoint_still_writes_last_ckpt(photos_dir, tmp_path):
    """A run whose last.ckpt came from elsewhere (the end-of-run save, or the signal handler's) used to
    get its periodic checkpoints as last-v1.ckpt, so a crash then resumed from the stale last.ckpt."""
    run = tmp_path / "run"
    first = train_in_process(_config(photos_dir, run, "trainer.max_steps=2", "checkpoint.every_n_steps=1000"))
    assert first.returncode == 0, first.stderr[-3000:]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        second = train_in_process(_config(photos_dir, run, "trainer.max_steps=5", "checkpoint.every_n_steps=1",
                                          "resume=auto"))
    assert second.returncode == 0, second.stderr[-3000:]
    assert not [w for w in caught if "exists and is not empty" in str(w.message)]  # its own checkpoints: no warning
    names = sorted(p.name for p in (run / "checkpoints").glob("last*.ckpt"))
    assert names == ["last.ckpt"], names


def test_a_resumed_run_keeps_its_precision_whatever_auto_would_pick_now(photos_dir, tmp_path, monkeypatch):
    """trainer.precision=auto on an AVX512-BF16 CPU is decided by a timing probe, which under load ranged
    0.9-1.9x (2026-12-04): a resume that chose another precision than its first part broke exact resume (seen
    in the full suite). The checkpoint says what it was trained in; auto resumes in that."""
    import stylenet.hardware as hardware

    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset({"avx2", "avx512f", "avx512_bf16"}))
    monkeypatch.setenv(hardware.BF16_SPEEDUP_ENV, "3.0")  # the probe's answer: a fresh auto run picks bf16-mixed
    run = tmp_path / "run"
    first = train_in_process(_config(photos_dir, run, "trainer.max_steps=2", "trainer.precision=32-true"))
    assert first.returncode == 0, first.stderr[-3000:]
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["precision"] == "32-true"
    second = train_in_process(_config(photos_dir, run, "trainer.max_steps=3", "resume=auto"))
    assert second.returncode == 0, second.stderr[-3000:]
    assert "precision: 32-true (auto: as the checkpoint being resumed)" in second.stdout + second.stderr
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 3


def test_an_unreadable_resume_checkpoint_is_one_line(tmp_path):
    from conftest import SAMPLE

    bad = sorted(SAMPLE.glob("*.jpg"))[0]
    proc = train_in_process(_config(tmp_path / "photos", tmp_path / "run", f"resume={bad}"))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith(f"error: resume: {bad} is not a readable checkpoint (")
    assert "Traceback" not in proc.stderr


def test_resuming_another_network_or_painting_is_one_line_and_other_settings_may_change(photos_dir, tmp_path):
    """A checkpoint of another network (model.width changed) failed inside Lightning's load with a screen of
    "size mismatch" lines; one of another painting went on silently, training the first painting's weights
    towards the second. Both are one line now; a changed schedule (max_steps, lr) still resumes."""
    run = tmp_path / "run"
    first = train_in_process(_config(photos_dir, run, "trainer.max_steps=2"))
    assert first.returncode == 0, first.stderr[-3000:]
    ckpt = run / "checkpoints" / "last.ckpt"
    for change, message in [
            ("model.width=8", f"error: resume: {ckpt} holds another network than this run builds (net."),
            ("model.num_res_blocks=2", "absent there, (16,) here; settings that differ: num_res_blocks 1 -> 2)"),
            ("style=wave", f"error: resume: {ckpt} was trained on starry_night (starry_night.jpg), this run on wave "
                           "(wave.jpg): resume with its painting")]:
        proc = train_in_process(_config(photos_dir, run, "trainer.max_steps=3", "resume=auto", change))
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
        assert message in proc.stderr.strip().splitlines()[-1], proc.stderr[-1000:]
        assert torch.load(ckpt, weights_only=True)["global_step"] == 2  # the run is left as it was
    # A longer schedule at another learning rate resumes with both (Lightning restored the checkpoint's
    # learning rate: optim.lr was silently ignored, and the LR jumped a step after the resume).
    proc = train_in_process(_config(photos_dir, run, "trainer.max_steps=6", "resume=auto", "optim.lr=5e-4"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert torch.load(ckpt, weights_only=True)["global_step"] == 6
    with open(run / "logs" / "metrics.csv") as f:
        logged = {int(r["step"]): float(r["lr-AdamW"]) for r in csv.DictReader(f) if r.get("lr-AdamW")}
    for step in range(2, 6):
        assert logged[step] == pytest.approx(5e-4 * warmup_cosine(step, 6, 1, 0.01), rel=1e-6), (step, logged)
    assert (f"resume at step 2: learning rate {5e-4 * warmup_cosine(2, 6, 1, 0.01):.3g} from this run's settings "
            "(optim.lr=0.0005, trainer.max_steps=6") in proc.stdout + proc.stderr


def test_the_ctrl_c_handler_is_the_caller_s_again_after_training(tmp_path):
    from types import SimpleNamespace

    from stylenet.training.preemption import PreemptionCheckpoint

    def mine(signum, frame):
        pass

    previous = signal.signal(signal.SIGINT, mine)
    try:
        trainer = SimpleNamespace(_signal_connector=SimpleNamespace(received_sigterm=False), world_size=1, global_rank=0)
        callback = PreemptionCheckpoint(tmp_path / "last.ckpt")
        callback.on_train_start(trainer, None)
        assert signal.getsignal(signal.SIGINT) is not mine  # during training: a first Ctrl+C saves and stops
        signal.getsignal(signal.SIGINT)(signal.SIGINT, None)
        assert trainer._signal_connector.received_sigterm and signal.getsignal(signal.SIGINT) is mine  # second: abort
        callback.on_train_start(trainer, None)
        callback.teardown(trainer, None, "fit")
        assert signal.getsignal(signal.SIGINT) is mine  # after it: the caller's own
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_fresh_run_into_a_folder_holding_a_run_is_refused_and_the_run_kept(tmp_path):
    """hydra.run.dir of an earlier run without resume: its checkpoints and model would be overwritten."""
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.ckpt").write_bytes(b"an earlier run's weights")
    proc = train_in_process(_config(tmp_path / "photos", run))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: hydra.run.dir: '{run}' holds a run already (checkpoints/last.ckpt); a fresh run would overwrite its "
        "checkpoints and model: resume=auto continues it, overwrite=true starts over there, or give another folder")
    assert (run / "checkpoints" / "last.ckpt").read_bytes() == b"an earlier run's weights"
    from stylenet.config import ConfigError, validate

    with pytest.raises(ConfigError, match="^overwrite: expected true or false, got 'yes'$"):
        validate(compose_config(["data=sample", "overwrite=yes"]))
    assert compose_config(["experiment=demo"]).overwrite is True  # make demo reruns start over in outputs/demo
    proc = train_in_process(_config(tmp_path / "photos", run, "loss.style_weight=-1"))  # a config mistake: said first
    assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1].startswith("error: loss.style_weight: ")
    proc = train_in_process(_config(tmp_path / "photos", run, "overwrite=true"))  # let through (to the next check)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1].startswith("error: data.root: ")
    assert (run / "checkpoints" / "last.ckpt").read_bytes() == b"an earlier run's weights"  # a failed start kept it


def test_overwrite_starts_over_without_the_earlier_runs_checkpoints_and_previews(tmp_path, photos_dir):
    run = tmp_path / "run"
    stale = [run / "checkpoints" / "best-step=900.ckpt", run / "checkpoints" / "last.ckpt",
             run / "previews" / "step_0000900.png"]
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"the earlier run's")
    proc = train_in_process(_config(photos_dir, run, "overwrite=true", "trainer.max_steps=2"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not stale[0].exists() and not stale[2].exists()  # not taken for this run's
    assert stale[1].read_bytes() != b"the earlier run's" and (run / "previews" / "step_0000002.png").is_file()
    assert "removed the earlier run's 3 checkpoints and previews" in proc.stderr + proc.stdout
