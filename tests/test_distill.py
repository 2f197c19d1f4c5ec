"""Distillation: a frozen teacher's outputs as an extra target for a (light) student."""
import pytest
import torch

from stylenet.config import ConfigError
from stylenet.training.config import module_kwargs
from stylenet.training.data import StyleDataModule
from stylenet.training.distill import Teacher, TeacherError
from stylenet.export import read_metadata, save_stylizer, training_metadata
from stylenet.models import InstanceNorm, TransformerNet, one_hot

from conftest import compose_config
from test_module import small_module, trainer


@pytest.fixture
def teacher_file(tmp_path):
    torch.manual_seed(3)
    net = TransformerNet(4, 1, num_styles=2).eval()
    for m in net.modules():
        if isinstance(m, InstanceNorm):
            torch.nn.init.normal_(m.weight, 1.0, 0.5)
            torch.nn.init.normal_(m.bias, 0.0, 0.5)
    styles = [{"name": n, "image": f"{n}.jpg", "size": 64, "weight": 1.0} for n in ("wave", "starry_night")]
    return net, save_stylizer(net, tmp_path / "teacher.safetensors", style="wave+starry_night", styles=styles)


def test_the_teacher_stylises_with_the_runs_style_by_name(teacher_file):
    net, path = teacher_file
    teacher = Teacher(path, ["starry_night"])  # the run's style 0 is the teacher's style 1
    x = torch.rand(2, 3, 24, 24)
    torch.testing.assert_close(teacher(x, torch.zeros(2, dtype=torch.long)), net(x, one_hot(1, 2).expand(2, 2)))
    assert not teacher(x).requires_grad and not teacher.training and not teacher.train().training
    with pytest.raises(TeacherError, match="has no style 'udnie' \\(its styles: wave, starry_night\\)"):
        Teacher(path, ["starry_night", "udnie"])


def test_the_distill_term_is_a_content_loss_against_the_teachers_output():
    module = small_module()
    module.setup("fit")
    x = torch.rand(2, 3, 32, 32)
    out = module.net(x)
    same, _ = module.perceptual.per_sample(out, x, teacher_output=out.detach(), teacher_weight=2.0)
    assert same["distill"].item() == 0.0
    other, _ = module.perceptual.per_sample(out, x, teacher_output=x, teacher_weight=2.0)
    plain, _ = module.perceptual.per_sample(out, x)
    torch.testing.assert_close(other["distill"], 2.0 * plain["content"] / module.perceptual.content_weight)
    torch.testing.assert_close(other["total"], plain["total"] + other["distill"])


def test_a_distillation_step_changes_only_the_student_and_checkpoints_leave_the_teacher_out(
        teacher_file, tmp_path, photos_dir):
    _, path = teacher_file
    module = small_module(distill_teacher=str(path), distill_weight=1.0)
    teacher_before = {k: v.clone() for k, v in module.teacher.state_dict().items()}
    student_before = {k: v.clone() for k, v in module.net.state_dict().items()}
    dm = StyleDataModule("folder", str(photos_dir), image_size=32, batch_size=2, num_workers=0, val_size=0)
    t = trainer(tmp_path, max_steps=2)
    t.fit(module, datamodule=dm)
    assert all(torch.equal(v, teacher_before[k]) for k, v in module.teacher.state_dict().items())
    assert any(not torch.equal(v, student_before[k]) for k, v in module.net.state_dict().items())
    assert "distill" in module.bar_metrics and module.bar_metrics["distill"] > 0
    t.save_checkpoint(tmp_path / "m.ckpt")
    ckpt = torch.load(tmp_path / "m.ckpt", map_location="cpu", weights_only=True)
    assert all(k.startswith("net.") for k in ckpt["state_dict"])
    meta = training_metadata(module.hparams, 2)
    assert meta["distilled_from"] == {"teacher": "teacher.safetensors", "weight": 1.0}


def test_distill_config_checks_the_teacher_before_training(teacher_file):
    _, path = teacher_file
    kwargs = module_kwargs(compose_config(["data=sample", "model=light", f"distill.teacher={path}", "distill.weight=0.5"]))
    assert kwargs["distill_teacher"] == str(path.resolve()) and kwargs["distill_weight"] == 0.5
    assert "distill_teacher" not in module_kwargs(compose_config(["data=sample"]))
    for override, message in ((f"distill.teacher={path}", "has no style 'udnie'"),
                              ("distill.teacher=/nope/teacher.safetensors", "distill.teacher:")):
        with pytest.raises(ConfigError, match=message):
            module_kwargs(compose_config(["data=sample", "style=udnie", override]))
    with pytest.raises(ConfigError, match="distill.weight"):
        module_kwargs(compose_config(["data=sample", f"distill.teacher={path}", "distill.weight=-1"]))
    assert read_metadata(path)["styles"][1]["name"] == "starry_night"
