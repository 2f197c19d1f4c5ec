import pytest
import torch
from omegaconf import OmegaConf

from stylenet.config import ConfigError, validate
from stylenet.paths import resolve_path
from stylenet.training.config import module_kwargs

from conftest import ROOT, STYLES, compose_config, run_train, tiny_overrides, train_in_process

STYLE_NAMES = sorted(p.stem for p in (ROOT / "conf" / "style").glob("*.yaml"))


def test_every_bundled_painting_has_a_style_config():
    assert STYLE_NAMES == sorted(p.stem for p in STYLES.glob("*.jpg"))
    assert len(STYLE_NAMES) == 10


@pytest.mark.parametrize("style", STYLE_NAMES)
def test_every_style_composes_and_its_image_exists(style):
    cfg = compose_config([f"style={style}", "data=sample"])
    assert cfg.style.name == style
    assert resolve_path(cfg.style.image).is_file()
    validate(cfg)


def test_defaults_match_the_paper():
    cfg = compose_config([])
    assert cfg.data.kind == "coco" and cfg.data.image_size == 256 and cfg.data.batch_size == 4
    assert cfg.model.width == 32 and cfg.model.num_res_blocks == 5
    assert cfg.optim.lr == 1e-3 and cfg.trainer.max_steps == 40000
    assert set(cfg.loss.content_layers) == {"relu2_2"}


def test_demo_experiment_composes():
    cfg = compose_config(["experiment=demo"])
    assert cfg.data.root == "data/sample" and cfg.model.width == 16
    validate(cfg)


@pytest.mark.parametrize("override, key", [
    ("loss.style_weight=-1", "loss.style_weight"),
    ("loss.content_weight=abc", "loss.content_weight"),
    ("data.image_size=16", "data.image_size"),
    ("data.batch_size=0", "data.batch_size"),
    ("style.image=data/styles/nope.jpg", "style.image"),
    ("style.size=8", "style.size"),
    ("optim.lr=0", "optim.lr"),
    ("optim.min_lr_ratio=2", "optim.min_lr_ratio"),
    ("checkpoint.every_minutes=0", "checkpoint.every_minutes"),
    ("checkpoint.every_minutes=soon", "checkpoint.every_minutes"),
    ("+loss.style_layers.relu9_1=1.0", "loss.style_layers.relu9_1"),
    ("loss.vgg_weights=vgg16", "loss.vgg_weights"),
    ("data.kind=lmdb", "data.kind"),
    ("trainer.max_steps=0", "trainer.max_steps"),
    ("loss.style_weight=nan", "loss.style_weight"),
    ("resume=/nonexistent/last.ckpt", "resume"),
    ("loss.on_nonfinite=ignore", "loss.on_nonfinite"),
    ("data.max_bad_fraction=1.5", "data.max_bad_fraction"),
    ("model.compile=maybe", "model.compile"),
    ("+model.block=dense", "model.block"),
    ("+model.outer_kernel=4", "model.outer_kernel"),
    ("+model.channels=[8,16]", "model.channels"),
    ("+model.expansion=0", "model.expansion"),
    ("+model.full_resolution=maybe", "model.full_resolution"),
])
def test_invalid_values_name_the_key(override, key):
    cfg = compose_config(["data=sample", override])
    with pytest.raises(ConfigError) as err:
        validate(cfg)
    assert str(err.value).startswith(f"{key}:")
    assert "\n" not in str(err.value)


def test_unreadable_style_image_is_one_line_error(tmp_path):
    """A painting that does not decode (not an image, or cut short) stops validation, not the module's setup."""
    junk = tmp_path / "junk.jpg"
    junk.write_text("not an image")
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(resolve_path("data/styles/wave.jpg").read_bytes()[:2000])
    for override, key, path in [(f"style.image={junk}", "style.image", junk), (f"style.image={cut}", "style.image", cut),
                                (f"styles=[wave,{junk}]", "styles", junk)]:
        with pytest.raises(ConfigError) as err:
            validate(compose_config(["data=sample", override]))
        assert str(err.value).startswith(f"{key}: {str(path)!r} is not a readable image (")
        assert "\n" not in str(err.value)


def test_light_model_composes_into_a_light_network():
    from stylenet.models import TransformerNet

    cfg = compose_config(["data=sample", "model=light"])
    kwargs = module_kwargs(cfg)
    assert kwargs["architecture"] == {"channels": [8, 16, 32], "outer_kernel": 5} and kwargs["width"] == 8
    net = TransformerNet(kwargs["width"], kwargs["num_res_blocks"], **kwargs["architecture"])
    assert net.encoder[0][1].kernel_size == (5, 5) and net.encoder[2][1].out_channels == 32
    inverted = module_kwargs(compose_config(["data=sample", "model=light", "model.block=inverted", "model.expansion=3"]))
    assert inverted["architecture"] == {"channels": [8, 16, 32], "outer_kernel": 5, "block": "inverted", "expansion": 3}
    assert module_kwargs(compose_config(["data=sample"]))["architecture"] == {}  # Johnson: nothing to add
    fast = module_kwargs(compose_config(["data=sample", "model=light_fast"]))
    assert fast["architecture"] == {"channels": [16, 32], "outer_kernel": 5, "full_resolution": False}
    net = TransformerNet(fast["width"], fast["num_res_blocks"], **fast["architecture"])
    assert net.encoder[0][1].stride == (2, 2) and net(torch.rand(1, 3, 20, 28)).shape == (1, 3, 20, 28)
    with pytest.raises(ConfigError, match=r"^model.channels: expected 2 channel counts \[1/2, 1/4"):
        validate(compose_config(["data=sample", "model=light_fast", "model.channels=[8,16,32]"]))


def test_module_kwargs_are_plain_values_and_apply_style_weight():
    cfg = compose_config(["data=sample", "style.weight=2.0", "loss.style_weight=3.0"])
    kwargs = module_kwargs(cfg)
    assert kwargs["style_weight"] == 6.0
    assert OmegaConf.is_config(kwargs["style_layers"]) is False
    assert isinstance(kwargs["content_layers"], dict)


def test_cli_bad_value_is_one_line_error_before_training(tmp_path):
    proc = train_in_process(["data=sample", "loss.style_weight=-2", f"hydra.run.dir={tmp_path}"])
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == "error: loss.style_weight: must be >= 0.0, got -2"
    assert "Traceback" not in proc.stderr


def test_cli_missing_coco_points_to_readme_and_sample(tmp_path):
    proc = run_train(["data.root=/nonexistent/train2014", f"hydra.run.dir={tmp_path}"], timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "data/README.md" in proc.stderr and "data=sample" in proc.stderr


def test_cli_trainer_settings_lightning_refuses_are_one_line_errors(tmp_path, photos_dir):
    base = [*tiny_overrides(photos_dir, tmp_path), "trainer.max_steps=1"]
    cases = [("trainer.strategy=nosuch", "error: trainer: You selected an invalid strategy name"),
             ("+trainer.max_step=5", "error: trainer.max_step: not an argument of lightning.pytorch.Trainer (did you "
                                     "mean trainer.max_steps?)")]
    if not torch.cuda.is_available():
        cases.append(("trainer.accelerator=gpu", "(no CUDA GPU is visible to PyTorch here: use trainer.accelerator=auto"))
    for override, message in cases:
        proc = train_in_process([*base, override])
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
        assert proc.stderr.strip().splitlines()[-1].startswith("error: trainer") and message in proc.stderr, override


@pytest.mark.parametrize("override, message", [
    ("+trainer.foo=1", "trainer.foo: not an argument of lightning.pytorch.Trainer$"),
    ("+trainer.gradient_clip_value=1", r"trainer.gradient_clip_value: .* \(did you mean trainer.gradient_clip_val\?\)"),
    ("+trainer.logger=false", r"trainer.logger: not settable here \(choose logger=csv, tensorboard, wandb or none\)"),
    ("+trainer.callbacks=[]", r"trainer.callbacks: not settable here"),
    ("trainer.val_check_interval=0", r"trainer.val_check_interval: must be > 0.0, got 0$"),  # a ZeroDivisionError
    ("trainer.accumulate_grad_batches=0", r"trainer.accumulate_grad_batches: must be >= 1, got 0$"),  # the same
    ("trainer.max_epochs=abc", r"trainer.max_epochs: expected an integer, got 'abc'$"),  # a TypeError
    ("trainer.gradient_clip_val=-1", r"trainer.gradient_clip_val: must be >= 0.0, got -1$"),  # would flip gradients
])
def test_trainer_keys_lightning_does_not_take_or_stylenet_sets_name_the_key(override, message):
    with pytest.raises(ConfigError, match="^" + message):
        validate(compose_config(["data=sample", override]))
    validate(compose_config(["data=sample", "+trainer.max_time=00:01:00:00"]))  # any real Trainer argument passes


def test_an_option_no_config_group_has_is_one_line_even_where_hydra_would_ignore_it(tmp_path):
    from stylenet.train_args import check_groups

    for args, message in ((["experiment=zo"], r"^experiment=zo: not one of conf/experiment/ \(adain, .*zoo\): "
                                              r"did you mean experiment=zoo\?$"),
                          (["model=lite"], r"^model=lite: not one of conf/model/ \(adain, johnson, johnson_small, light, "
                                           r"light_fast\)$"),
                          (["-m", "model=light,nosuch"], "^model=nosuch: "),
                          (["experiment=null"], "^experiment=null: experiment takes one of .*; for none, leave it out$"),
                          (["logger=tensorbord"], "did you mean logger=tensorboard"), (["data=samples"], "data=sample")):
        with pytest.raises(ValueError, match=message):
            check_groups(args)
    check_groups(["model=light", "-m", "model=light,johnson_small", "experiment=zoo", "+experiment=demo",
                  "model.width=16", "style=anything", "data=sample", "logger=none"])  # (style: own_painting's)
    check_groups(["hydra.searchpath=[file:///my/conf]", "model=mine"])  # another config folder's: Hydra's to find
    # experiment=: an optional group, which Hydra skips without a word when the option does not exist
    proc = train_in_process(["experiment=zo", "data=sample", f"hydra.run.dir={tmp_path}"])
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and not (tmp_path / "train.log").exists()
    assert proc.stderr.strip().splitlines()[-1].startswith("error: experiment=zo: not one of conf/experiment/")


def test_cli_unknown_style_lists_choices(tmp_path):
    proc = train_in_process(["style=mona_lisa", f"hydra.run.dir={tmp_path}"])
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    line = proc.stderr.strip().splitlines()[-1]  # one line, not Hydra's listing
    assert line.startswith("error: style=mona_lisa: not a bundled painting (composition_vii, ") and "the_scream" in line
    assert "For your own painting, give its file: style=path/to/painting.jpg" in line
    proc = train_in_process(["style=Starry-Night", f"hydra.run.dir={tmp_path}"])
    assert "did you mean style=starry_night?" in proc.stderr


def test_style_may_be_your_own_painting_s_file(tmp_path, photos_dir):
    """``style=<image file>``: style.image from it, quoted for Hydra, and the style's name (the run's and the
    model's) from the file's name; the user's own style.name wins; bundled names and sweeps of them pass as
    they are; bad paths are one line."""
    from stylenet.train_args import own_painting

    from PIL import Image

    painting = tmp_path / "my painting (1).jpg"  # 30x17 px: enlarged 2.1x to style.size=64, said in one line
    Image.open(STYLES / "wave.jpg").resize((30, 17)).save(painting)
    assert own_painting(["data=sample", f"style={painting}"]) == ["data=sample", f"style.image='{painting}'"]
    assert compose_config([f"style.image='{painting}'"]).name == "my_painting_1"
    cfg = compose_config([f"style.image='{painting}'", "style.name=hokusai"])
    assert cfg.style.name == cfg.name == "hokusai"
    for args in (["style=wave"], ["--multirun", "style=wave,udnie"], ["style.image=x.jpg"], ["styles=[a.jpg,wave]"],
                 ["style=wave,udnie"], ["-m", "style=choice(wave,udnie)"]):
        assert own_painting(args) == args
    for value, message in [(tmp_path / "none.jpg", "no such file"), (tmp_path, "a folder"),
                           (tmp_path / "notes.txt", "not an image file")]:
        (tmp_path / "notes.txt").write_text("x")
        with pytest.raises(ValueError, match=f"style={value}: {message} \\(for your own painting, give an image file"):
            own_painting([f"style={value}"])
    run = tmp_path / "run"  # end to end: trained and exported under the painting's name
    proc = train_in_process([*tiny_overrides(photos_dir, run), "trainer.max_steps=1", f"style={painting}"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (run / "my_painting_1.safetensors").is_file()
    warning = f"WARNING: style.image: '{painting}' is 30x17 px, enlarged 2.1x to its style size 64 px"
    assert warning in proc.stdout + proc.stderr and warning[9:] in (run / "train.log").read_text()
    assert OmegaConf.load(run / ".hydra" / "config.yaml").style.image == str(painting)
    resolved = OmegaConf.load(run / ".hydra" / "resolved.yaml")  # plain OmegaConf: no stylenet resolvers needed
    assert resolved.style.name == resolved.name == "my_painting_1" and "hydra" not in resolved
    from conftest import run_here  # make demo STYLE=<file>: the demo picture needs the painting given back
    demo = [ROOT / "scripts" / "demo.py", ["--model", run / "my_painting_1.safetensors", "--out", tmp_path / "d.png",
                                           "--height", "32", "--size", "32", "--no-zoo"]]
    proc = run_here(demo[0], demo[1])
    assert proc.returncode == 2 and "trained on 'my painting (1).jpg': give it with --style-image" in proc.stderr
    proc = run_here(demo[0], [*demo[1], "--style-image", painting])
    assert proc.returncode == 0 and (tmp_path / "d.png").is_file(), proc.stderr


def test_a_painting_enlarged_far_beyond_its_scan_is_said_per_painting(tmp_path):
    """More than 2x to the style size: one line per such painting (``style`` or each of ``styles``), naming
    the file, its size and the scan that would do; the bundled paintings at their configs' sizes, and AdaIN
    (no fixed style size), give none."""
    from PIL import Image

    from stylenet.config import painting_warnings

    small = tmp_path / "small.png"
    Image.new("RGB", (150, 100), "red").save(small)
    assert painting_warnings(compose_config([f"style.image={small}", "style.size=300"])) == []  # 2.0x: fine
    lines = painting_warnings(compose_config([f"style.image={small}", "style.size=384"]))
    assert lines == [f"style.image: '{small}' is 150x100 px, enlarged 2.6x to its style size 384 px: the style "
                     "targets see the enlargement's blur, not the brushwork (use a scan of at least 192 px, or a "
                     "smaller style size)"]
    lines = painting_warnings(compose_config([f"styles=[wave,{small}]", "styles_size=512"]))
    assert len(lines) == 1 and lines[0].startswith(f"styles: '{small}' is 150x100 px, enlarged 3.4x")
    assert painting_warnings(compose_config([f"styles=[wave,{small}]"])) == [lines[0].replace("3.4x", "2.6x")
                                                                              .replace("512 px", "384 px")
                                                                              .replace("256 px", "192 px")]
    for style in STYLE_NAMES:
        assert painting_warnings(compose_config([f"style={style}"])) == [], style
    assert painting_warnings(compose_config(["experiment=adain", f"style.image={small}", "style.size=384"])) == []


def test_a_sweep_over_your_own_paintings_runs_one_named_run_per_file(tmp_path, photos_dir):
    """``--multirun style=a.jpg,b.jpg``: a sweep over style.image, each run named after its painting (Hydra alone
    stopped with its "Could not find 'style/...'" listing); a sweep mixing bundled names and files is one line."""
    from stylenet.train_args import own_painting

    paintings = [tmp_path / "hokusai.jpg", tmp_path / "my udnie.jpg"]
    for painting, source in zip(paintings, ("wave", "udnie")):
        painting.write_bytes((STYLES / f"{source}.jpg").read_bytes())
    sweep = f"style={paintings[0]},{paintings[1]}"
    assert own_painting(["-m", sweep]) == ["-m", f"style.image={paintings[0]},'{paintings[1]}'"]
    with pytest.raises(ValueError, match=r"a sweep over bundled paintings \(wave\) and files at once"):
        own_painting(["--multirun", f"style=wave,{paintings[0]}"])
    with pytest.raises(ValueError, match="style=nope.jpg: no such file"):
        own_painting(["--multirun", f"style={paintings[0]},nope.jpg"])
    out = tmp_path / "sweep"
    overrides = [o for o in tiny_overrides(photos_dir, tmp_path / "unused") if not o.startswith("hydra.run.dir")]
    proc = train_in_process(["--multirun", *overrides, "trainer.max_steps=1", sweep, f"hydra.sweep.dir={out}"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    for number, (name, painting) in enumerate([("hokusai", paintings[0]), ("my_udnie", paintings[1])]):
        run = out / f"{number}_{name}"
        assert (run / f"{name}.safetensors").is_file()
        assert OmegaConf.load(run / ".hydra" / "config.yaml").style.image == str(painting)


def test_the_resolved_config_prints(tmp_path):
    """``--cfg job --resolve`` (Hydra resolves it before any job, where the resolvers were not registered yet:
    "Unsupported interpolation type model_name")."""
    painting = tmp_path / "my painting.png"
    painting.write_bytes((STYLES / "wave.jpg").read_bytes())
    proc = run_train(["--cfg", "job", "--resolve", f"style={painting}"])  # its own process: nothing registered before
    assert proc.returncode == 0, proc.stderr[-2000:]
    resolved = OmegaConf.create(proc.stdout)
    assert resolved.style.name == resolved.name == "my_painting" and resolved.style.image == str(painting)


def test_cli_unwritable_run_dir_is_one_line_error(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    proc = train_in_process(["data=sample", f"hydra.run.dir={blocker}/run"])
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: hydra.run.dir: cannot write to")
