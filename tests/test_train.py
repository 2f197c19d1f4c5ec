"""train.py end to end through Hydra, in subprocesses, as a user runs it."""
import pytest
import torch

from stylenet import load_stylizer
from stylenet.export import read_metadata

from conftest import run_train


@pytest.mark.parametrize("model", [None, "light_fast"])
def test_fast_dev_run_through_hydra(tiny, tmp_path, model):
    if model is not None:  # the config group first, then the tiny sizes over it
        tiny = [f"model={model}", *tiny, "model.channels=[6,8]"]
    proc = run_train([*tiny, "trainer.fast_dev_run=true"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    exported = tmp_path / "run" / "starry_night.safetensors"
    assert exported.is_file()
    if model == "light_fast":  # the architecture travels with the file and loads back
        assert read_metadata(exported)["model"] == {"width": 4, "num_res_blocks": 1, "channels": [6, 8],
                                                     "outer_kernel": 5, "full_resolution": False}
        assert load_stylizer(exported)(torch.rand(3, 21, 30)).shape == (3, 21, 30)


def test_short_run_writes_checkpoint_export_and_logs(photos_dir, tmp_path):
    from conftest import tiny_overrides
    run = tmp_path / "run"
    overrides = [o for o in tiny_overrides(photos_dir, run) if o != "logger=none"]
    proc = run_train([*overrides, "style=the_scream", "checkpoint.every_n_steps=2"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    last = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert last["global_step"] == 3  # the final step is saved even off the every_n_steps grid
    assert [p.name for p in (run / "checkpoints").glob("best-*.ckpt")] == ["best-step=2.ckpt"]  # lowest val/total
    metrics = (run / "logs" / "metrics.csv").read_text()
    for key in ("train/content", "train/style", "train/tv", "train/total", "val/total", "lr-AdamW"):
        assert key in metrics
    meta = read_metadata(run / "the_scream.safetensors")
    assert meta["style"] == "the_scream" and meta["steps"] == 3 and meta["image_size"] == 32
    assert meta["model"] == {"width": 4, "num_res_blocks": 1}
    y = load_stylizer(run / "the_scream.safetensors")(torch.rand(3, 20, 30))
    assert y.shape == (3, 20, 30)
    # The auto switches are resolved for this machine and said once at the start, with the reason: once (Lightning's
    # own console handler printed every log line a second time under Hydra's), on the console and in train.log.
    output = proc.stdout + proc.stderr
    for key in ("precision", "channels_last", "compile"):
        said = [line for line in output.splitlines() if f"{key}: " in line and "(auto: CPU" in line]
        assert len(said) == 1 and said[0].startswith("INFO: "), (key, said)
        assert f"{key}: " in (run / "train.log").read_text()
    assert "weights_only" not in output and "LeafSpec" not in output  # Lightning's noise no user can act on
    assert "litlogger" not in output  # nor its advert for a cloud logger
    assert "trained 3 steps; 4 images after the first batch in " in output  # the throughput summary


def test_ddp_two_cpu_processes(tiny, tmp_path):
    # strategy stays "auto", as in `python train.py trainer.devices=4`: Lightning must pick DDP itself. Two styles
    # (spread over the ranks' batches); one style under DDP: tests/test_scale.py's probe and the AdaIN DDP test.
    proc = run_train([*tiny, "trainer.devices=2", "trainer.max_steps=2", "styles=[starry_night,wave]", "styles_size=64"],
                     timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert "GLOBAL_RANK: 0, MEMBER: 1/2" in out and "GLOBAL_RANK: 1, MEMBER: 2/2" in out
    exports = list((tmp_path / "run").rglob("*.safetensors"))
    assert [p.name for p in exports] == ["starry_night+wave.safetensors"]  # written once, by rank 0
    assert [s["name"] for s in read_metadata(exports[0])["styles"]] == ["starry_night", "wave"]
    assert proc.stdout.count("exported ") == 1


def test_demo_pipeline_writes_the_side_by_side_picture(tmp_path):
    """make demo's path (experiment=demo, then scripts/demo.py), with 2 steps instead of 300."""
    import subprocess
    import sys

    from PIL import Image

    from conftest import ROOT, run_here

    run = tmp_path / "demo"
    proc = run_train(["experiment=demo", "trainer.max_steps=2", "data.image_size=32", "style.size=64",
                      "trainer.val_check_interval=1", "trainer.limit_val_batches=1", f"hydra.run.dir={run}"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    png = tmp_path / "demo.png"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "demo.py"), "--model",
                           str(run / "starry_night.safetensors"), "--out", str(png), "--height", "64"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    sheet = Image.open(png)
    assert sheet.height > 3 * 64 and sheet.width > 3 * 64  # three rows of content | style | result
    from stylenet.export import pretrained_names
    if "zoo" in pretrained_names():  # the bundled zoo's styles on the first photo, below
        plain = tmp_path / "plain.png"
        no_zoo = run_here(ROOT / "scripts" / "demo.py", ["--model", run / "starry_night.safetensors", "--out", plain,
                                                          "--height", "64", "--no-zoo"])
        assert no_zoo.returncode == 0, no_zoo.stderr
        assert sheet.height > Image.open(plain).height + 40 and sheet.width >= 10 * 40


def _not_black(path) -> bool:
    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=float)
    return pixels.mean() > 20 and pixels.std() > 5


def test_previews_are_written_and_logged_to_wandb_offline(tiny, tmp_path):
    run = tmp_path / "run"
    overrides = [o for o in tiny if o != "logger=none"]
    proc = run_train([*overrides, "logger=wandb", "logger.offline=true", "preview.every_n_steps=2",
                      "preview.count=2", "preview.size=32"], timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    grids = sorted((run / "previews").glob("step_*.png"))
    assert [g.name for g in grids] == ["step_0000002.png", "step_0000003.png"]
    assert all(_not_black(g) for g in grids)
    import numpy as np
    from PIL import Image
    probe = np.asarray(Image.open(grids[0]).convert("RGB"))[4:36, 4:36]  # first probe photo, inside the padding
    assert (probe.max(axis=2) < 8).mean(axis=1).max() < 0.5  # no black padding rows from a non-square crop
    logged = list((run / "wandb").glob("offline-run-*/files/media/images/previews_*.png"))
    assert logged and all(_not_black(p) for p in logged)  # uint8, not wandb's black float images
    # The run's record holds the loss terms, learning rate, throughput and the resolved Hydra config.
    record = next((run / "wandb").glob("offline-run-*/run-*.wandb")).read_bytes()
    for name in (b"train/content", b"train/style", b"train/total", b"lr-AdamW", b"train/images_per_s",
                 b"max_bad_fraction", str(tiny[1].split("=", 1)[1]).encode()):
        assert name in record, name


def test_tensorboard_logger_gets_losses_lr_throughput_previews_and_config(tiny, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "run"
    overrides = [o for o in tiny if o != "logger=none"]
    proc = run_train([*overrides, "logger=tensorboard", "preview.every_n_steps=2", "preview.count=2",
                      "preview.size=32"], timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    events = list((run / "tensorboard").glob("events.out.tfevents.*"))
    assert len(events) == 1
    acc = EventAccumulator(str(events[0]), size_guidance={"images": 0, "scalars": 0})
    acc.Reload()
    scalars = set(acc.Tags()["scalars"])
    assert {"train/content", "train/style", "train/total", "train/images_per_s", "val/total", "lr-AdamW"} <= scalars
    assert len(acc.Scalars("train/total")) == 3  # log_every_n_steps=1, 3 steps
    assert [e.step for e in acc.Images("previews")] == [2, 3]
    hparams = (run / "tensorboard" / "hparams.yaml").read_text()
    assert "config:" in hparams and "starry_night" in hparams and "style_weight" in hparams
